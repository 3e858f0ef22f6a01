package auth

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// banStateVersion is the version of the ban state file format.
const banStateVersion = 1

// banState is the ban state file: the bans in force, oldest first.
type banState struct {
	Version int         `json:"version"`
	Bans    []banRecord `json:"bans"`
}

type banRecord struct {
	Network  string    `json:"network"` // a prefix, e.g. "192.0.2.7/32" or "2001:db8::/64"
	Until    time.Time `json:"until"`
	Manual   bool      `json:"manual,omitempty"` // made by an operator (admin API)
	Note     string    `json:"note,omitempty"`
	Failures int       `json:"failures,omitempty"`
}

// Save writes the bans in force (not the failure counters) to path as JSON,
// atomically: a temporary file in the same directory, mode 0600, renamed
// over path.
func (b *Autoban) Save(path string) error {
	b.mu.Lock()
	now := b.now()
	st := banState{Version: banStateVersion, Bans: make([]banRecord, 0, b.banOrder.Len())}
	for el := b.banOrder.Front(); el != nil; el = el.Next() {
		e := el.Value.(*banEntry)
		if now.Before(e.until) {
			st.Bans = append(st.Bans, banRecord{Network: e.key.String(), Until: e.until.UTC().Round(0),
				Manual: e.manual, Note: e.note, Failures: e.failures})
		}
	}
	b.mu.Unlock()
	data, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding bans: %w", err)
	}
	return writeFileAtomic(path, append(data, '\n'), 0o600)
}

// Load adds the bans saved in path by Save to the current ones (keeping the
// later end where both hold the same network), skipping those expired or
// exempt. A missing file is not an error; a malformed one is, and then
// nothing is loaded.
func (b *Autoban) Load(path string) error {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading ban state: %w", err)
	}
	st, err := parseBanState(data)
	if err != nil {
		return fmt.Errorf("ban state file %s: %w", path, err)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.now()
	for _, r := range st {
		if now.Before(r.until) && (r.manual || !b.exempt.Contains(r.key.Addr())) {
			b.addBan(&r)
		}
	}
	return nil
}

// parseBanState decodes and checks a ban state file.
func parseBanState(data []byte) ([]banEntry, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var st banState
	if err := dec.Decode(&st); err != nil {
		return nil, fmt.Errorf("malformed: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("malformed: data after the JSON object")
	}
	if st.Version != banStateVersion {
		return nil, fmt.Errorf("unsupported version %d", st.Version)
	}
	out := make([]banEntry, 0, len(st.Bans))
	for i, r := range st.Bans {
		p, err := ParseNetwork(r.Network)
		if err != nil {
			return nil, fmt.Errorf("ban %d: %w", i+1, err)
		}
		if r.Until.IsZero() {
			return nil, fmt.Errorf("ban %d: missing end time", i+1)
		}
		out = append(out, banEntry{key: p, until: r.Until, manual: r.Manual, note: r.Note, failures: r.Failures})
	}
	return out, nil
}

// writeFileAtomic writes data to a temporary file next to path and renames
// it over path, so that path always holds either the old or the new data.
func writeFileAtomic(path string, data []byte, perm os.FileMode) (err error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = os.Remove(tmp)
		}
	}()
	if err = f.Chmod(perm); err != nil {
		return err
	}
	if _, err = f.Write(data); err != nil {
		return err
	}
	if err = f.Sync(); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
