package fs

import "time"

// Direction tells a download from an upload.
type Direction int

// Transfer directions.
const (
	Download Direction = iota // RETR
	Upload                    // STOR, APPE
)

// String returns "download" or "upload".
func (d Direction) String() string {
	if d == Upload {
		return "upload"
	}
	return "download"
}

// Transfer describes one file transfer, reported once, when its handle is closed.
type Transfer struct {
	Direction Direction
	Path      string // virtual path
	Bytes     int64
	Start     time.Time
	Duration  time.Duration
	Complete  bool // false when interrupted (TransferError was called, or a copy error)
}
