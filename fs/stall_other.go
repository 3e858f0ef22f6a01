//go:build !linux

package fs

// limitUnsent does nothing outside Linux: the stall timeout's granularity there is whatever the
// kernel's send buffer makes it.
func limitUnsent(any, int) {}
