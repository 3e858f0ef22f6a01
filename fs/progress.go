package fs

// Transferred returns the bytes a transfer in progress has moved so far; it may be called from
// any goroutine (the admin API reads it while the copy loop adds to it).
func (h *handle) Transferred() int64 { return h.bytes.Load() }
