package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"
)

// metric is one row of the results table.
type metric struct {
	key    string
	unit   string
	higher bool    // higher is better
	target float64 // wharf/best-peer ratio to reach (0: none); a maximum when !higher
}

// scenario measures one or more metrics against a server (or, for ceilings,
// against nothing: srv is nil).
type scenario struct {
	name    string
	doc     string
	metrics []metric
	peers   bool // false: run once per round, not per server
	run     func(ctx context.Context, r *runner, srv *server) (map[string]float64, error)
}

// Metric keys.
const (
	mDownload       = "download 1 file, plain"
	mDownloadTLS    = "download 1 file, TLS"
	mUpload         = "upload 1 file, plain"
	mUploadTLS      = "upload 1 file, TLS"
	mSmallUp        = "small files: upload"
	mSmallDown      = "small files: download"
	mIdle           = "idle session memory (PSS)"
	mParallel       = "parallel downloads, aggregate"
	mLogins         = "logins per second"
	mListTime       = "LIST of the big directory: time"
	mListMem        = "LIST of the big directory: peak memory rise"
	mNLSTTime       = "NLST of the big directory: time"
	mNLSTMem        = "NLST of the big directory: peak memory rise"
	mMLSDTime       = "MLSD of the big directory: time"
	mMLSDMem        = "MLSD of the big directory: peak memory rise"
	mCPUDownload    = "server CPU per GiB: download, plain"
	mCPUDownloadTLS = "server CPU per GiB: download, TLS"
	mCPUUpload      = "server CPU per GiB: upload, plain"
	mCPUUploadTLS   = "server CPU per GiB: upload, TLS"
	mCPUSmallUp     = "server CPU per 1,000 small files: upload"
	mCPUSmallDown   = "server CPU per 1,000 small files: download"
	mCeilTCP        = "ceiling: loopback TCP (Go, memory to memory)"
	mCeilSendfile   = "ceiling: loopback TCP (Go, sendfile from the test file)"
	mCeilAES        = "ceiling: AES-128-GCM seal, one core (Go)"
	mCeilTLS        = "ceiling: TLS 1.3 stream over loopback (Go)"
)

func scenarios() []scenario {
	return []scenario{
		{name: "download", doc: "(a) one big download, plain", peers: true,
			metrics: []metric{{mDownload, "MB/s", true, 1}, {mCPUDownload, "CPU s/GiB", false, 0}}, run: runDownload(false)},
		{name: "download-tls", doc: "(a) one big download, PROT P", peers: true,
			metrics: []metric{{mDownloadTLS, "MB/s", true, 1}, {mCPUDownloadTLS, "CPU s/GiB", false, 0}}, run: runDownload(true)},
		{name: "upload", doc: "(b) one big upload, plain", peers: true,
			metrics: []metric{{mUpload, "MB/s", true, 1}, {mCPUUpload, "CPU s/GiB", false, 0}}, run: runUpload(false)},
		{name: "upload-tls", doc: "(b) one big upload, PROT P", peers: true,
			metrics: []metric{{mUploadTLS, "MB/s", true, 1}, {mCPUUploadTLS, "CPU s/GiB", false, 0}}, run: runUpload(true)},
		{name: "small", doc: "(c) many small files uploaded then downloaded in one session", peers: true,
			metrics: []metric{{mSmallUp, "files/s", true, 1}, {mSmallDown, "files/s", true, 1},
				{mCPUSmallUp, "CPU s/1000 files", false, 0}, {mCPUSmallDown, "CPU s/1000 files", false, 0}}, run: runSmall},
		{name: "idle", doc: "(d) concurrent logged-in idle sessions: PSS per session", peers: true,
			metrics: []metric{{mIdle, "KiB/session", false, 0.25}}, run: runIdle},
		{name: "parallel", doc: "(e) parallel downloads: aggregate throughput", peers: true,
			metrics: []metric{{mParallel, "MB/s", true, 1}}, run: runParallel},
		{name: "logins", doc: "(f) connect, USER, PASS, QUIT from several workers", peers: true,
			metrics: []metric{{mLogins, "logins/s", true, 1}}, run: runLogins},
		{name: "list", doc: "(g) LIST, NLST and MLSD of a big directory: time and peak memory rise", peers: true,
			metrics: []metric{
				{mListTime, "s", false, 1}, {mListMem, "MiB", false, 1},
				{mNLSTTime, "s", false, 0}, {mNLSTMem, "MiB", false, 0},
				{mMLSDTime, "s", false, 1}, {mMLSDMem, "MiB", false, 1},
			}, run: runList},
		{name: "ceilings", doc: "(h) loopback TCP, AES-GCM and a Go TLS stream: the machine's limits",
			metrics: []metric{{mCeilTCP, "MB/s", true, 0}, {mCeilSendfile, "MB/s", true, 0},
				{mCeilAES, "MB/s", true, 0}, {mCeilTLS, "MB/s", true, 0}}, run: runCeilings},
	}
}

// runner holds what every scenario needs.
type runner struct {
	o       *options
	env     *peerEnv
	tlsConf *tls.Config
	uid     int
	gid     int
	notes   sync.Map // server name → TLS description
}

const ioTimeout = 60 * time.Second

// session opens a logged-in control connection, with TLS when secure is true.
func (r *runner) session(srv *server, secure bool) (*client, error) {
	var conf *tls.Config
	if secure {
		conf = r.tlsConf.Clone()
		// Its own cache: a data connection resumes this control connection's session.
		conf.ClientSessionCache = tls.NewLRUClientSessionCache(4)
		// The cache is keyed by ServerName, else by the address, which differs
		// between control and data connections.
		conf.ServerName, _, _ = net.SplitHostPort(srv.addr)
	}
	c, err := dial(srv.addr, conf, ioTimeout)
	if err != nil {
		return nil, err
	}
	if err := c.login(srv.user, srv.pass); err != nil {
		c.close()
		return nil, err
	}
	return c, nil
}

func mbps(n int64, d time.Duration) float64 { return float64(n) / d.Seconds() / 1e6 }

func runDownload(secure bool) func(context.Context, *runner, *server) (map[string]float64, error) {
	key, cpuKey := mDownload, mCPUDownload
	if secure {
		key, cpuKey = mDownloadTLS, mCPUDownloadTLS
	}
	return func(_ context.Context, r *runner, srv *server) (map[string]float64, error) {
		c, err := r.session(srv, secure)
		if err != nil {
			return nil, err
		}
		defer c.quit()
		buf := make([]byte, copyBufSize)
		cpu := srv.cpuStart()
		start := time.Now()
		n, err := c.retr(bigFile, buf)
		d := time.Since(start)
		if err != nil {
			return nil, err
		}
		if n != r.o.size {
			return nil, fmt.Errorf("downloaded %d bytes, want %d", n, r.o.size)
		}
		if secure {
			r.noteTLS(srv, c)
		}
		return withCPU(map[string]float64{key: mbps(n, d)}, cpuKey, cpu, float64(n)/(1<<30)), nil
	}
}

func (r *runner) noteTLS(srv *server, c *client) {
	st := c.dataTLS
	r.notes.Store(srv.name, fmt.Sprintf("%s %s, data connection resumed: %v",
		tls.VersionName(st.Version), tls.CipherSuiteName(st.CipherSuite), st.DidResume))
}

func runUpload(secure bool) func(context.Context, *runner, *server) (map[string]float64, error) {
	key, cpuKey := mUpload, mCPUUpload
	if secure {
		key, cpuKey = mUploadTLS, mCPUUploadTLS
	}
	return func(_ context.Context, r *runner, srv *server) (map[string]float64, error) {
		src, err := os.Open(filepath.Join(r.env.data, bigFile))
		if err != nil {
			return nil, err
		}
		defer src.Close()
		c, err := r.session(srv, secure)
		if err != nil {
			return nil, err
		}
		defer c.quit()
		name := uploadDir + "/" + srv.name + ".bin"
		defer os.Remove(filepath.Join(r.env.data, name))
		buf := make([]byte, copyBufSize)
		if err := prefault(filepath.Join(r.env.data, uploadDir), r.o.size, buf); err != nil {
			return nil, err
		}
		cpu := srv.cpuStart()
		start := time.Now()
		n, err := c.stor(name, src, r.o.size, buf)
		d := time.Since(start)
		if err != nil {
			return nil, err
		}
		fi, err := os.Stat(filepath.Join(r.env.data, name))
		if err != nil {
			return nil, err
		}
		if n != r.o.size || fi.Size() != r.o.size {
			return nil, fmt.Errorf("uploaded %d bytes, server has %d, want %d", n, fi.Size(), r.o.size)
		}
		return withCPU(map[string]float64{key: mbps(n, d)}, cpuKey, cpu, float64(n)/(1<<30)), nil
	}
}

// withCPU adds to vals the server's CPU seconds per unit since span began,
// when they could be measured.
func withCPU(vals map[string]float64, key string, span cpuSpan, units float64) map[string]float64 {
	if v, ok := span.per(units); ok {
		vals[key] = v
	}
	return vals
}

// prefault writes size bytes into a scratch file in dir and deletes it, just
// before an upload starts its clock, so that the upload finds the pages it
// needs already mapped in the guest. In a VM that hands free memory back to
// the host (virtio-balloon free page reporting), the first write into pages
// freed a few seconds earlier waits on host page faults: writing 1 GiB into
// tmpfs took 0.29 s warm and up to 0.8 s cold here, and an upload that met
// it ran at 340-560 MB/s instead of about 2000. The server that uploads first
// after a long pause (wharf, first in every round) met it every time; the
// others reused the pages the previous upload had just freed.
func prefault(dir string, size int64, buf []byte) error {
	f, err := os.CreateTemp(dir, "prefault-")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	defer f.Close()
	clear(buf)
	for left := size; left > 0; {
		n := int64(len(buf))
		if left < n {
			n = left
		}
		if _, err := f.Write(buf[:n]); err != nil {
			return err
		}
		left -= n
	}
	return nil
}

func runSmall(_ context.Context, r *runner, srv *server) (map[string]float64, error) {
	dir := filepath.Join(r.env.data, smallDir, srv.name)
	_ = os.RemoveAll(dir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	if err := os.Lchown(dir, r.uid, r.gid); err != nil {
		return nil, err
	}
	c, err := r.session(srv, false)
	if err != nil {
		return nil, err
	}
	defer c.quit()
	if _, _, err := c.cmd(2, "CWD "+smallDir+"/"+srv.name); err != nil {
		return nil, err
	}
	buf := make([]byte, copyBufSize)
	body := buf[:r.o.smallSize]
	for i := range body {
		body[i] = byte(i * 7)
	}
	n := r.o.smallCount
	cpu := srv.cpuStart()
	start := time.Now()
	for i := range n {
		if _, err := c.stor(fmt.Sprintf("f%05d", i), nil, r.o.smallSize, body); err != nil {
			return nil, fmt.Errorf("upload %d: %w", i, err)
		}
	}
	up := time.Since(start)
	cpuUp, cpuUpOK := cpu.per(float64(n) / 1000)
	cpu = srv.cpuStart()
	start = time.Now()
	for i := range n {
		got, err := c.retr(fmt.Sprintf("f%05d", i), buf)
		if err != nil {
			return nil, fmt.Errorf("download %d: %w", i, err)
		}
		if got != r.o.smallSize {
			return nil, fmt.Errorf("download %d: %d bytes, want %d", i, got, r.o.smallSize)
		}
	}
	down := time.Since(start)
	vals := map[string]float64{
		mSmallUp:   float64(n) / up.Seconds(),
		mSmallDown: float64(n) / down.Seconds(),
	}
	if cpuUpOK {
		vals[mCPUSmallUp] = cpuUp
	}
	return withCPU(vals, mCPUSmallDown, cpu, float64(n)/1000), nil
}

// openSessions logs n sessions in, at most 16 at a time.
func (r *runner) openSessions(ctx context.Context, srv *server, n int) ([]*client, error) {
	out := make([]*client, n)
	var (
		wg    sync.WaitGroup
		next  atomic.Int64
		first atomic.Pointer[error]
	)
	for range min(16, n) {
		wg.Go(func() {
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= n || first.Load() != nil {
					return
				}
				c, err := r.session(srv, false)
				if err != nil {
					err = fmt.Errorf("session %d: %w", i, err)
					first.CompareAndSwap(nil, &err)
					return
				}
				out[i] = c
			}
		})
	}
	wg.Wait()
	if e := first.Load(); e != nil {
		closeAll(out)
		return nil, *e
	}
	return out, ctx.Err()
}

// closeAll sends QUIT on every session, in parallel.
func closeAll(cs []*client) {
	var wg sync.WaitGroup
	sem := make(chan struct{}, 32)
	for _, c := range cs {
		if c == nil {
			continue
		}
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			_ = c.quit()
		})
	}
	wg.Wait()
}

// settle waits d, or less if ctx ends: memory is read once the server is quiet.
func settle(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

func runIdle(ctx context.Context, r *runner, srv *server) (map[string]float64, error) {
	// A first login warms caches (and wharf's password check) before the baseline.
	warm, err := r.session(srv, false)
	if err != nil {
		return nil, err
	}
	_ = warm.quit()
	settle(ctx, 500*time.Millisecond)
	base := treePSS(srv.pid)
	cs, err := r.openSessions(ctx, srv, r.o.sessions)
	if err != nil {
		return nil, err
	}
	defer closeAll(cs)
	settle(ctx, time.Second)
	after := treePSS(srv.pid)
	return map[string]float64{mIdle: float64(after-base) / float64(r.o.sessions)}, nil
}

func runParallel(ctx context.Context, r *runner, srv *server) (map[string]float64, error) {
	cs, err := r.openSessions(ctx, srv, r.o.parallel)
	if err != nil {
		return nil, err
	}
	defer closeAll(cs)
	var (
		wg    sync.WaitGroup
		total atomic.Int64
		first atomic.Pointer[error]
	)
	start := time.Now()
	for _, c := range cs {
		wg.Go(func() {
			buf := make([]byte, copyBufSize)
			n, err := c.retr(parFile, buf)
			if err == nil && n != r.o.parallelSize {
				err = fmt.Errorf("downloaded %d bytes, want %d", n, r.o.parallelSize)
			}
			if err != nil {
				first.CompareAndSwap(nil, &err)
			}
			total.Add(n)
		})
	}
	wg.Wait()
	d := time.Since(start)
	if e := first.Load(); e != nil {
		return nil, *e
	}
	return map[string]float64{mParallel: mbps(total.Load(), d)}, nil
}

func runLogins(ctx context.Context, r *runner, srv *server) (map[string]float64, error) {
	var (
		wg       sync.WaitGroup
		ok, fail atomic.Int64
		lastErr  atomic.Pointer[error]
	)
	ctx, cancel := context.WithTimeout(ctx, r.o.loginDuration)
	defer cancel()
	start := time.Now()
	for range r.o.loginWorkers {
		wg.Go(func() {
			for i := 0; i < 1_000_000 && ctx.Err() == nil; i++ {
				c, err := dial(srv.addr, nil, 10*time.Second)
				if err == nil {
					err = c.loginOnly(srv.user, srv.pass)
					if err == nil {
						err = c.quit()
					} else {
						c.close()
					}
				}
				if err != nil {
					fail.Add(1)
					lastErr.Store(&err)
					continue
				}
				ok.Add(1)
			}
		})
	}
	wg.Wait()
	d := time.Since(start)
	if f := fail.Load(); f > 0 {
		return nil, fmt.Errorf("%d of %d logins failed, last: %v", f, f+ok.Load(), *lastErr.Load())
	}
	return map[string]float64{mLogins: float64(ok.Load()) / d.Seconds()}, nil
}

// runList lists the big directory with LIST, NLST and MLSD, each in a new
// session; wharf is restarted before each (see server.fresh), so every peak is
// measured from a new process, as for the forking peers.
func runList(ctx context.Context, r *runner, srv *server) (map[string]float64, error) {
	out := map[string]float64{}
	var errs []error
	buf := make([]byte, copyBufSize)
	for _, v := range []struct{ verb, tkey, mkey string }{
		{"LIST", mListTime, mListMem}, {"NLST", mNLSTTime, mNLSTMem}, {"MLSD", mMLSDTime, mMLSDMem},
	} {
		d, rise, lines, err := listOnce(ctx, srv, v.verb, buf)
		if err != nil {
			var fe *ftpError
			if errors.As(err, &fe) && fe.code/100 == 5 {
				err = fmt.Errorf("%s not supported (%d %s)", v.verb, fe.code, fe.msg)
			}
			errs = append(errs, err)
			continue
		}
		if lines < int64(r.o.listEntries) {
			errs = append(errs, fmt.Errorf("%s listed %d lines for %d entries", v.verb, lines, r.o.listEntries))
			continue
		}
		out[v.tkey] = d.Seconds()
		out[v.mkey] = float64(rise) / 1024
	}
	return out, errors.Join(errs...)
}

func listOnce(ctx context.Context, srv *server, verb string, buf []byte) (time.Duration, int64, int64, error) {
	if srv.fresh != nil {
		if err := srv.fresh(); err != nil {
			return 0, 0, 0, fmt.Errorf("restart: %w", err)
		}
	}
	c, err := dial(srv.addr, nil, ioTimeout)
	if err != nil {
		return 0, 0, 0, err
	}
	defer c.quit()
	if err := c.login(srv.listUser, srv.listPass); err != nil {
		return 0, 0, 0, err
	}
	settle(ctx, 300*time.Millisecond)
	probe := newPeakProbe(srv.pid)
	start := time.Now()
	_, lines, err := c.list(verb, listDir, buf)
	d := time.Since(start)
	return d, probe.rise(), lines, err
}
