package server

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/wharf-ftp/wharf/fs"
	"github.com/wharf-ftp/wharf/fs/s3"
	"github.com/wharf-ftp/wharf/server/config"
)

// quotaRecount is how often every quota is counted again, for changes made to
// its folder outside wharf.
const quotaRecount = time.Hour

// storage keeps what outlives a reload: each folder's quota, with its usage.
// Its zero value is ready.
type storage struct {
	mu     sync.Mutex
	quotas map[string]*quotaEntry // by folder identity (see folderKey)
	ticker bool                   // the periodic recount runs
}

// quotaEntry is a folder's quota and how to count it.
type quotaEntry struct {
	q       *fs.Quota
	count   func(ctx context.Context) error
	counted bool // a count was started since the last reload
}

// folderKey identifies a folder whoever mounts it: its real directory, or its
// store and key prefix. Two users mounting one folder share its quota.
func folderKey(f config.Folder) string {
	if f.Store != "" {
		return "store:" + f.Store + ":" + f.Path
	}
	return "dir:" + f.Path
}

// openStores connects to every [stores.NAME] (without contacting them).
func (s *Server) openStores(cfg *config.Config) (map[string]*s3.Store, error) {
	out := make(map[string]*s3.Store, len(cfg.Stores))
	for name, sc := range cfg.Stores {
		c := storeConfig(sc, cfg.Server.DataTimeout)
		c.Logger = s.log.With("component", "store", "store", name)
		st, err := s3.New(c)
		if err != nil {
			return nil, fmt.Errorf("store %q: %w", name, err)
		}
		out[name] = st
	}
	return out, nil
}

func storeConfig(sc *config.Store, timeout time.Duration) s3.Config {
	return s3.Config{
		Endpoint:  sc.Endpoint,
		Region:    sc.Region,
		Bucket:    sc.Bucket,
		Prefix:    sc.Prefix,
		AccessKey: sc.AccessKey,
		SecretKey: sc.SecretKey,
		PathStyle: sc.PathStyle,
		Timeout:   timeout,
	}
}

// mountsFor builds u's mount table with each folder's backend and quota.
func (s *Server) mountsFor(cfg *config.Config, stores map[string]*s3.Store, u *config.User, commit *[]func()) []fs.Mount {
	folders := cfg.Folders(u)
	out := make([]fs.Mount, 0, len(folders))
	for _, f := range folders {
		m := fs.Mount{Path: f.Mount, Dir: f.Path, Perm: f.Perm}
		var b fs.Backend
		if f.Store != "" {
			fb := stores[f.Store].Folder(f.Path)
			m.Backend, m.Dir, b = fb, "", fb
		}
		if f.Quota.Size > 0 || f.Quota.Files > 0 {
			m.Quota = s.quotaFor(f, b, commit)
		}
		out = append(out, m)
	}
	return out
}

// quotaFor returns the folder's quota, shared by every account mounting it.
// The limits of f apply when the state is committed (commitStorage): a
// rejected reload changes nothing.
func (s *Server) quotaFor(f config.Folder, b fs.Backend, commit *[]func()) *fs.Quota {
	st := &s.storage
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.quotas == nil {
		st.quotas = map[string]*quotaEntry{}
	}
	key := folderKey(f)
	e, ok := st.quotas[key]
	if !ok {
		e = &quotaEntry{q: fs.NewQuota(0, 0)}
		e.q.OnRefusal = func() {
			if m := s.metrics; m != nil {
				m.quotaRefusals.Inc()
			}
		}
		st.quotas[key] = e
	}
	dir, size, files := f.Path, f.Quota.Size, f.Quota.Files
	*commit = append(*commit, func() {
		e.q.SetLimits(size, files)
		if b != nil {
			e.count = func(ctx context.Context) error { return e.q.Count(ctx, b) }
		} else {
			e.count = func(ctx context.Context) error { return e.q.CountDir(ctx, dir) }
		}
	})
	return e.q
}

// commitStorage applies the quota limits of a state now in use, and counts
// every quota's usage again in the background.
func (s *Server) commitStorage(st *state) {
	s.storage.mu.Lock()
	for _, f := range st.commit {
		f()
	}
	s.storage.mu.Unlock()
	s.countQuotas()
}

// countQuotas counts, in the background, the usage of every quota of the
// state just built (at start and after a reload), and starts the periodic
// recount once.
func (s *Server) countQuotas() {
	st := &s.storage
	st.mu.Lock()
	entries := make([]*quotaEntry, 0, len(st.quotas))
	for _, e := range st.quotas {
		entries = append(entries, e)
	}
	startTicker := !st.ticker && len(entries) > 0
	st.ticker = st.ticker || startTicker
	st.mu.Unlock()
	go s.runCounts(entries)
	if startTicker {
		go func() {
			t := time.NewTicker(quotaRecount)
			defer t.Stop()
			for {
				select {
				case <-s.ctx.Done():
					return
				case <-t.C:
					st.mu.Lock()
					entries := make([]*quotaEntry, 0, len(st.quotas))
					for _, e := range st.quotas {
						entries = append(entries, e)
					}
					st.mu.Unlock()
					s.runCounts(entries)
				}
			}
		}()
	}
}

func (s *Server) runCounts(entries []*quotaEntry) {
	for _, e := range entries {
		start := time.Now()
		if err := e.count(s.ctx); err != nil {
			if s.ctx.Err() == nil {
				s.log.Warn("quota: cannot count a folder's usage", "err", err)
			}
			continue
		}
		bytes, files := e.q.Usage()
		s.log.Debug("quota: usage counted", "bytes", bytes, "files", files, "duration", time.Since(start).Round(time.Millisecond).String())
	}
}

// FolderUsage is one folder of a user as the admin API shows it: integers,
// 0 = no cap.
type FolderUsage struct {
	Mount      string `json:"mount"`
	QuotaSize  int64  `json:"quota_size"`
	QuotaFiles int64  `json:"quota_files"`
	UsedSize   int64  `json:"used_size"`
	UsedFiles  int64  `json:"used_files"`
}

// UserFolders returns the folders of the user name with their quotas and
// usage (GET /api/v1/users), sorted by mount point; nil for an unknown user.
func (s *Server) UserFolders(name string) []FolderUsage {
	st := s.state()
	a := st.accounts[name]
	if a == nil {
		return nil
	}
	out := make([]FolderUsage, 0, len(a.mounts))
	for _, m := range a.mounts {
		fu := FolderUsage{Mount: m.Path}
		if m.Quota != nil {
			size, files := m.Quota.Limits()
			fu.QuotaSize, fu.QuotaFiles = int64(size), files
			fu.UsedSize, fu.UsedFiles = m.Quota.Usage()
		}
		out = append(out, fu)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Mount < out[j].Mount })
	return out
}

// checkStores asks every store's bucket whether it answers (`wharf check`
// without --skip-path-checks), all at once; each failure is a FILE:LINE error
// at the store's table.
func checkStores(cfg *config.Config) error {
	names := make([]string, 0, len(cfg.Stores))
	for name := range cfg.Stores {
		names = append(names, name)
	}
	sort.Strings(names)
	errs := make(config.Errors, len(names))
	var wg sync.WaitGroup
	for i, name := range names {
		sc := cfg.Stores[name]
		wg.Go(func() {
			timeout := min(cfg.Server.DataTimeout, 10*time.Second)
			st, err := s3.New(storeConfig(sc, timeout))
			if err == nil {
				err = st.Check(context.Background())
			}
			if err != nil {
				errs[i] = config.Error{File: cfg.File, Line: sc.Line, Msg: fmt.Sprintf("store %q: %v", name, err)}
			}
		})
	}
	wg.Wait()
	var out config.Errors
	for _, e := range errs {
		if e.Msg != "" {
			out = append(out, e)
		}
	}
	if len(out) > 0 {
		return out
	}
	return nil
}
