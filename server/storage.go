package server

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/wharf-ftp/wharf/fs"
	"github.com/wharf-ftp/wharf/fs/s3"
	"github.com/wharf-ftp/wharf/server/config"
)

// quotaRecount is how often every quota is counted again, for changes made to
// its folder outside wharf.
const quotaRecount = time.Hour

// staleSweepEvery is how often the folders in object stores are looked at
// again for abandoned incomplete uploads (besides when a folder first appears).
const staleSweepEvery = time.Hour

// storage keeps what outlives a reload: each folder's quota, with its usage,
// and when each folder in a store was last swept for abandoned uploads.
// Its zero value is ready.
type storage struct {
	mu     sync.Mutex
	quotas map[string]*quotaEntry // by folder identity (see folderKey)
	ticker bool                   // the periodic recount runs

	folders  map[string]*s3.Folder // the store folders of the state in use, by Folder.ID
	swept    map[string]time.Time  // when each store folder's sweep last started
	sweeping bool                  // the periodic sweep runs
	aborted  atomic.Uint64         // abandoned uploads aborted (wharf_store_abandoned_uploads_aborted_total)
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
			*commit = append(*commit, func() { s.storage.folders[fb.ID()] = fb })
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
	s.storage.folders = map[string]*s3.Folder{} // filled by the state's commit functions
	for _, f := range st.commit {
		f()
	}
	s.storage.mu.Unlock()
	s.countQuotas()
	s.sweepStores()
}

// sweepStores aborts, in the background, the abandoned incomplete uploads of
// every store folder in use that was not swept within staleSweepEvery: at
// start, when a reload adds a folder, and then every staleSweepEvery.
func (s *Server) sweepStores() {
	st := &s.storage
	st.mu.Lock()
	if st.swept == nil {
		st.swept = map[string]time.Time{}
	}
	now := time.Now()
	var due []*s3.Folder
	for id, f := range st.folders {
		if last, ok := st.swept[id]; !ok || now.Sub(last) >= staleSweepEvery {
			st.swept[id] = now
			due = append(due, f)
		}
	}
	start := !st.sweeping && len(st.folders) > 0
	st.sweeping = st.sweeping || start
	st.mu.Unlock()
	if len(due) > 0 {
		go s.runSweeps(due)
	}
	if start {
		go func() {
			t := time.NewTicker(staleSweepEvery)
			defer t.Stop()
			for {
				select {
				case <-s.ctx.Done():
					return
				case <-t.C:
					s.sweepStores()
				}
			}
		}()
	}
}

// runSweeps aborts the abandoned incomplete uploads below each folder's prefix
// (fs/s3 logs each); a folder whose sweep fails is tried again at the next tick.
func (s *Server) runSweeps(folders []*s3.Folder) {
	for _, f := range folders {
		aborted, err := f.AbortStale(s.ctx, s3.StaleUploadAge)
		s.storage.aborted.Add(uint64(len(aborted)))
		if err != nil {
			if s.ctx.Err() != nil {
				return
			}
			s.log.Warn("object store: cannot look for abandoned uploads", "component", "store", "err", err)
			s.storage.mu.Lock()
			delete(s.storage.swept, f.ID())
			s.storage.mu.Unlock()
		}
	}
}

// storageCollectors are the metrics of the storage: abandoned uploads aborted.
func (s *Server) storageCollectors() []prometheus.Collector {
	return []prometheus.Collector{prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name: "wharf_store_abandoned_uploads_aborted_total",
		Help: "Incomplete multipart uploads left in an object store (by a crash) that wharf aborted.",
	}, func() float64 { return float64(s.storage.aborted.Load()) })}
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
