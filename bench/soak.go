package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The soak scenario: many sessions, half plain and half explicit FTPS, loop
// over listings, small downloads, upload-check-delete cycles and occasional
// big downloads for minutes, with every byte checked against what it must be.
// It is not part of "all": ask for it with -scenarios soak.

const soakName = "soak"

// The soak's files inside the served tree.
const (
	soakDir         = "soak"
	soakFilesDir    = soakDir + "/files" // small files to download, known content
	soakListDir     = soakDir + "/list"  // the directory listed by LIST and MLSD
	soakUpDir       = soakDir + "/up"    // uploads, deleted after each cycle
	soakBigFile     = soakDir + "/big.bin"
	soakListEntries = 200
	soakSmallFiles  = 48
	soakMinSize     = 2 << 10
	soakMaxSize     = 64 << 10
	// soakDataTimeout bounds one data connection from its preliminary reply to its end.
	soakDataTimeout = 2 * time.Minute
)

// soakEdgeSizes are sizes of small download files around the server's 64 KiB
// data-connection buffer and the sizes reported in issue reports; the other
// small files get random sizes between soakMinSize and soakMaxSize.
var soakEdgeSizes = []int{soakMinSize, 4096, 16384, 47000, 65000, 65535, 65536}

// makeSoakData creates the soak's tree under data: random small files, a
// listing directory of soakListEntries entries, a random big file and the
// upload directory.
func makeSoakData(data string, bigSize int64) error {
	for _, d := range []string{soakFilesDir, soakListDir, soakUpDir} {
		if err := os.MkdirAll(filepath.Join(data, d), 0o755); err != nil {
			return err
		}
	}
	for i := range soakSmallFiles {
		size := soakMinSize + mrand.IntN(soakMaxSize-soakMinSize+1)
		if i < len(soakEdgeSizes) {
			size = soakEdgeSizes[i]
		}
		if err := randomFile(filepath.Join(data, soakFilesDir, fmt.Sprintf("f%02d.bin", i)), int64(size)); err != nil {
			return err
		}
	}
	for i := range soakListEntries {
		b := bytes.Repeat([]byte{'x'}, i)
		if err := os.WriteFile(filepath.Join(data, soakListDir, fmt.Sprintf("e%03d.dat", i)), b, 0o644); err != nil {
			return err
		}
	}
	return randomFile(filepath.Join(data, soakBigFile), bigSize)
}

// randomFile writes size random bytes, none repeated (fillFile repeats a 4 MiB block).
func randomFile(path string, size int64) error {
	b := make([]byte, size)
	_, _ = rand.Read(b)
	return os.WriteFile(path, b, 0o644)
}

// soakContent is what the served soak files hold, read before the soak starts.
type soakContent struct {
	small []string          // names of the small files, relative to the served root
	files map[string][]byte // content by name: the small files and the big one
	list  map[string]int64  // the listing directory: name → size
}

func loadSoakContent(data string) (*soakContent, error) {
	sc := &soakContent{files: map[string][]byte{}, list: map[string]int64{}}
	ents, err := os.ReadDir(filepath.Join(data, soakFilesDir))
	if err != nil {
		return nil, err
	}
	for _, e := range ents {
		name := soakFilesDir + "/" + e.Name()
		b, err := os.ReadFile(filepath.Join(data, name))
		if err != nil {
			return nil, err
		}
		sc.small = append(sc.small, name)
		sc.files[name] = b
	}
	if sc.files[soakBigFile], err = os.ReadFile(filepath.Join(data, soakBigFile)); err != nil {
		return nil, err
	}
	ents, err = os.ReadDir(filepath.Join(data, soakListDir))
	if err != nil {
		return nil, err
	}
	for _, e := range ents {
		fi, err := e.Info()
		if err != nil {
			return nil, err
		}
		sc.list[e.Name()] = fi.Size()
	}
	if len(sc.small) == 0 || len(sc.list) == 0 {
		return nil, errors.New("soak tree is empty")
	}
	return sc, nil
}

// Operations, as counted in the report.
const (
	opList = iota
	opMLSD
	opRetr
	opBig
	opStor
	opReadBack
	opDele
	nOps
)

func soakOpName(op int, bigSize int64) string {
	return [...]string{"LIST (200 entries)", "MLSD (200 entries)", "RETR small file", "RETR " + formatBytes(bigSize),
		"STOR small file", "RETR of the upload", "DELE of the upload"}[op]
}

// Error kinds, in report order.
const (
	eConnect  = "connect"
	eLogin    = "login"
	eControl  = "control connection lost"
	eDataConn = "data connection"
	eReply    = "error reply"
	eShort    = "short/corrupt data"
	eWrong226 = "226 with wrong/empty data"
	eDele     = "250 to DELE, file still there"
)

var soakKinds = []string{eConnect, eLogin, eControl, eDataConn, eReply, eShort, eWrong226, eDele}

// soakKindDoc says what each kind counts.
var soakKindDoc = map[string]string{
	eConnect:  "TCP connect, greeting or control TLS handshake failed",
	eLogin:    "USER, PASS, PBSZ, PROT or TYPE refused or failed",
	eControl:  "no reply: the control connection broke or timed out (data, if any, was right so far)",
	eDataConn: "the data connection could not be opened, or broke before a byte, and the server said so",
	eReply:    "4xx/5xx to a command, or a transfer ended by a 4xx/5xx with the bytes right so far",
	eShort:    "bytes wrong, or short with no final reply, or a failed STOR left a file: and no 226",
	eWrong226: "the server said 226 but the bytes received (or, for STOR, on disk) differ from the expected",
	eDele:     "the server said 250 to DELE but the file is still on disk",
}

type soakErrKey struct {
	kind string
	op   string // operation or step
	tls  bool
}

// soakStats is what all sessions count, under one lock.
type soakStats struct {
	mu         sync.Mutex
	ops        [nOps][2]int64
	lat        [nOps][]time.Duration // of the successful ones, plain and TLS together
	bytes      [nOps][2]int64
	errs       map[soakErrKey]int64
	details    []string // first errors of every kind, and every 226 with wrong data
	perKind    map[string]int
	tlsData    int64 // TLS data connections that completed a handshake
	tlsResumed int64
	unclean    int64 // right bytes and 226, but the data connection ended with an error
	logins     [2]int64
}

const soakDetailsPerKind = 10

func mode(secure bool) string {
	if secure {
		return "TLS"
	}
	return "plain"
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

func (st *soakStats) ok(op int, secure bool, n int64, took time.Duration) {
	st.mu.Lock()
	st.ops[op][b2i(secure)]++
	st.bytes[op][b2i(secure)] += n
	st.lat[op] = append(st.lat[op], took)
	st.mu.Unlock()
}

// latency returns the median, 99th percentile and maximum time of an operation.
func (st *soakStats) latency(op int) (p50, p99, most time.Duration, ok bool) {
	st.mu.Lock()
	v := slices.Clone(st.lat[op])
	st.mu.Unlock()
	if len(v) == 0 {
		return 0, 0, 0, false
	}
	slices.Sort(v)
	return v[len(v)/2], v[len(v)*99/100], v[len(v)-1], true
}

func (st *soakStats) fail(kind, op string, secure bool, at time.Duration, detail string) {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.errs[soakErrKey{kind, op, secure}]++
	if st.perKind[kind] < soakDetailsPerKind || kind == eWrong226 {
		st.perKind[kind]++
		st.details = append(st.details, fmt.Sprintf("+%.1fs %s %s [%s]: %s", at.Seconds(), kind, op, mode(secure), detail))
	}
}

func (st *soakStats) total() (ops, bytes int64) {
	st.mu.Lock()
	defer st.mu.Unlock()
	for op := range nOps {
		for m := range 2 {
			ops += st.ops[op][m]
			bytes += st.bytes[op][m]
		}
	}
	return ops, bytes
}

func (st *soakStats) errCount(kind string) int64 {
	st.mu.Lock()
	defer st.mu.Unlock()
	var n int64
	for k, v := range st.errs {
		if kind == "" || k.kind == kind {
			n += v
		}
	}
	return n
}

// soakRun is one soak against one server.
type soakRun struct {
	r       *runner
	srv     *server
	content *soakContent
	st      *soakStats
	start   time.Time
}

// soakSession is one client session's loop.
type soakSession struct {
	run    *soakRun
	id     int
	secure bool
	rng    *mrand.Rand
	c      *client
	buf    []byte
	seq    int
}

// xfer is the outcome of one data command.
type xfer struct {
	prelim  error // before any data: EPSV/PASV, data dial, or the 1xx reply
	kind    string
	dataErr error
	n       int64
	code    int // final reply; 0 when none came
	msg     string
	resumed bool
	port    int // the data connection's server port, 0 before it opened
	took    time.Duration
	// steps says how long each step took, for error details.
	steps strings.Builder
}

// step notes the time since t0 of a step that just ended.
func (x *xfer) step(name string, t0 time.Time) {
	if x.steps.Len() > 0 {
		x.steps.WriteString(", ")
	}
	fmt.Fprintf(&x.steps, "%s +%s", name, time.Since(t0).Round(time.Millisecond))
}

func (s *soakSession) since() time.Duration { return time.Since(s.run.start) }

// connect opens and logs in the session; failures are counted.
func (s *soakSession) connect() bool {
	var conf *tls.Config
	if s.secure {
		conf = s.run.r.tlsConf.Clone()
		conf.ClientSessionCache = tls.NewLRUClientSessionCache(4)
		conf.ServerName, _, _ = net.SplitHostPort(s.run.srv.addr)
	}
	c, err := dial(s.run.srv.addr, conf, ioTimeout)
	if err != nil {
		s.run.st.fail(eConnect, "connect", s.secure, s.since(), err.Error())
		return false
	}
	if err := c.login(s.run.srv.user, s.run.srv.pass); err != nil {
		c.close()
		s.run.st.fail(eLogin, "login", s.secure, s.since(), err.Error())
		return false
	}
	s.run.st.mu.Lock()
	s.run.st.logins[b2i(s.secure)]++
	s.run.st.mu.Unlock()
	s.c = c
	return true
}

// drop closes a session whose control connection is no longer usable.
func (s *soakSession) drop() {
	if s.c != nil {
		s.c.close()
		s.c = nil
	}
}

// loop runs operations with random pauses until end, then quits.
func (s *soakSession) loop(ctx context.Context, end time.Time) {
	for ctx.Err() == nil && time.Now().Before(end) {
		if s.c == nil && !s.connect() {
			s.pause(ctx, end)
			continue
		}
		s.step()
		s.pause(ctx, end)
	}
	if s.c != nil {
		if err := s.c.quit(); err != nil {
			s.run.st.fail(eControl, "QUIT", s.secure, s.since(), err.Error())
		}
		s.c = nil
	}
}

// pause waits 50-500 ms, or until end or ctx.
func (s *soakSession) pause(ctx context.Context, end time.Time) {
	d := 50*time.Millisecond + time.Duration(s.rng.Int64N(int64(450*time.Millisecond)))
	d = min(d, time.Until(end))
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// step runs one randomly chosen operation: LIST 15%, MLSD 15%, RETR of a
// small file 38%, an upload cycle (STOR, check on disk, sometimes RETR back,
// DELE) 30%, RETR of the big file 2%.
func (s *soakSession) step() {
	switch p := s.rng.IntN(100); {
	case p < 15:
		s.listing(opList, "LIST")
	case p < 30:
		s.listing(opMLSD, "MLSD")
	case p < 68:
		name := s.run.content.small[s.rng.IntN(len(s.run.content.small))]
		s.download(opRetr, name, s.run.content.files[name])
	case p < 98:
		s.uploadCycle()
	default:
		s.download(opBig, soakBigFile, s.run.content.files[soakBigFile])
	}
}

// transfer runs one data command: EPSV, data connection, the command, body
// on the data connection (TLS when PROT P), then the final reply. It never
// fails the session itself: the caller classifies the outcome.
func (s *soakSession) transfer(line string, upload bool, body func(net.Conn) (int64, error)) *xfer {
	c := s.c
	x := &xfer{}
	t0 := time.Now()
	raw, err := c.dataConn()
	x.step("EPSV and data connection", t0)
	if err != nil {
		x.prelim, x.kind = err, classifyPrelim(err)
		return x
	}
	defer raw.Close()
	if a, ok := raw.RemoteAddr().(*net.TCPAddr); ok {
		x.port = a.Port
	}
	if err := c.send(line); err != nil {
		x.prelim, x.kind = err, eControl
		return x
	}
	name, _, _ := strings.Cut(line, " ")
	code, msg, err := c.expect(name, 0)
	x.step(fmt.Sprintf("reply to %s", name), t0)
	switch {
	case err != nil:
		x.prelim, x.kind = err, eControl
		return x
	case code/100 != 1:
		x.prelim, x.kind, x.code, x.msg = &ftpError{name, code, msg}, eReply, code, msg
		return x
	}
	conn := c.secure(raw)
	_ = raw.SetDeadline(time.Now().Add(soakDataTimeout))
	x.n, x.dataErr = body(conn)
	x.step("data end", t0)
	if tc, ok := conn.(*tls.Conn); ok {
		if st := tc.ConnectionState(); st.HandshakeComplete {
			x.resumed = st.DidResume
			s.run.st.mu.Lock()
			s.run.st.tlsData++
			if st.DidResume {
				s.run.st.tlsResumed++
			}
			s.run.st.mu.Unlock()
		}
	}
	if upload && x.dataErr == nil {
		if tc, ok := conn.(*tls.Conn); ok {
			_ = tc.CloseWrite() // close_notify: the upload is complete
		}
		if tcp, ok := raw.(*net.TCPConn); ok {
			_ = tcp.CloseWrite()
		}
		var small [4096]byte
		_, _ = discard(conn, small[:])
	}
	_ = conn.Close()
	if x.code, x.msg, err = c.expect(name, 0); err != nil {
		x.code, x.dataErr = 0, errors.Join(x.dataErr, err)
	}
	x.step("final reply", t0)
	x.took = time.Since(t0)
	return x
}

// classifyPrelim sorts an error from opening the data connection.
func classifyPrelim(err error) string {
	var fe *ftpError
	var oe *net.OpError
	switch {
	case errors.As(err, &fe):
		return eReply
	case errors.As(err, &oe) && oe.Op == "dial":
		return eDataConn
	case strings.HasPrefix(err.Error(), "bad EPSV") || strings.HasPrefix(err.Error(), "bad PASV"):
		return eReply
	}
	return eControl
}

// outcome classifies a transfer whose data was judged: exact (all and only
// the expected bytes) and prefix (nothing wrong so far, maybe short).
func outcome(x *xfer, exact, prefix bool) string {
	switch {
	case x.prelim != nil:
		return x.kind
	case x.code/100 == 2:
		if exact {
			return ""
		}
		return eWrong226
	case !prefix:
		return eShort
	case x.code == 0 && x.n > 0 && !exact:
		return eShort
	case x.code == 0:
		return eControl
	case x.n == 0 && x.dataErr != nil:
		return eDataConn
	}
	return eReply
}

func (s *soakSession) record(op int, opName string, x *xfer, exact, prefix bool, detail func() string) bool {
	kind := outcome(x, exact, prefix)
	if kind == "" {
		s.run.st.ok(op, s.secure, x.n, x.took)
		return true
	}
	var b strings.Builder
	b.WriteString(detail())
	if x.prelim != nil {
		fmt.Fprintf(&b, "; before data: %v", x.prelim)
	}
	if x.dataErr != nil {
		fmt.Fprintf(&b, "; data: %v", x.dataErr)
	}
	if x.code != 0 && x.prelim == nil {
		fmt.Fprintf(&b, "; final reply %d %s", x.code, x.msg)
	}
	if s.secure && x.prelim == nil {
		fmt.Fprintf(&b, "; data session resumed: %v", x.resumed)
	}
	if x.port != 0 {
		fmt.Fprintf(&b, "; data port %d", x.port)
	}
	fmt.Fprintf(&b, "; %s", x.steps.String())
	s.run.st.fail(kind, opName, s.secure, s.since(), b.String())
	if kind == eControl || kind == eShort && x.code == 0 {
		s.drop()
	}
	return false
}

// noteUnclean counts a transfer whose bytes were all right and whose server
// said so, but whose data connection ended with an error (a TLS stream without
// close_notify, a reset): not a failure, but worth knowing.
func (s *soakSession) noteUnclean(exact bool, x *xfer) {
	if exact && x.prelim == nil && x.code/100 == 2 && x.dataErr != nil {
		s.run.st.mu.Lock()
		s.run.st.unclean++
		if s.run.st.perKind["unclean"] < soakDetailsPerKind {
			s.run.st.perKind["unclean"]++
			s.run.st.details = append(s.run.st.details, fmt.Sprintf("+%.1fs data ended uncleanly [%s] (bytes right, %d %s): %v",
				s.since().Seconds(), mode(s.secure), x.code, x.msg, x.dataErr))
		}
		s.run.st.mu.Unlock()
	}
}

// verifier compares a stream with the bytes it must be.
type verifier struct {
	want []byte
	off  int64
	bad  int64 // first wrong offset, -1 while none
}

func newVerifier(want []byte) *verifier { return &verifier{want: want, bad: -1} }

func (v *verifier) Write(p []byte) (int, error) {
	if v.bad < 0 {
		rest := v.want[min(v.off, int64(len(v.want))):]
		k := min(len(p), len(rest))
		if !bytes.Equal(p[:k], rest[:k]) {
			for i := range k {
				if p[i] != rest[i] {
					v.bad = v.off + int64(i)
					break
				}
			}
		} else if k < len(p) {
			v.bad = v.off + int64(k) // more bytes than the file holds
		}
	}
	v.off += int64(len(p))
	return len(p), nil
}

func (v *verifier) exact() bool  { return v.bad < 0 && v.off == int64(len(v.want)) }
func (v *verifier) prefix() bool { return v.bad < 0 }

// readAll reads conn to its end into w through buf; the end of a TLS stream
// without close_notify is an error here (io.ErrUnexpectedEOF).
func readAll(conn net.Conn, w io.Writer, buf []byte) (int64, error) {
	var n int64
	for {
		k, err := conn.Read(buf)
		if k > 0 {
			_, _ = w.Write(buf[:k])
			n += int64(k)
		}
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
}

func (s *soakSession) download(op int, name string, want []byte) bool {
	v := newVerifier(want)
	x := s.transfer("RETR "+name, false, func(conn net.Conn) (int64, error) { return readAll(conn, v, s.buf) })
	s.noteUnclean(v.exact(), x)
	return s.record(op, "RETR", x, v.exact(), v.prefix(), func() string {
		d := fmt.Sprintf("%s: want %d bytes, got %d", name, len(want), v.off)
		if v.bad >= 0 {
			d += fmt.Sprintf(", first wrong byte at %d", v.bad)
		}
		return d
	})
}

func (s *soakSession) listing(op int, verb string) {
	var got bytes.Buffer
	x := s.transfer(verb+" "+soakListDir, false, func(conn net.Conn) (int64, error) { return readAll(conn, &got, s.buf) })
	exact, prefix, why := checkListing(verb, got.Bytes(), s.run.content.list)
	s.noteUnclean(exact, x)
	s.record(op, verb, x, exact, prefix, func() string {
		return fmt.Sprintf("%s %s: %d bytes, %s", verb, soakListDir, got.Len(), why)
	})
}

// checkListing compares a LIST or MLSD answer with the directory's entries
// (name → size). exact: every entry once, sizes right, nothing else; prefix:
// nothing wrong in the complete lines received, maybe entries missing.
func checkListing(verb string, b []byte, want map[string]int64) (exact, prefix bool, why string) {
	seen := make(map[string]bool, len(want))
	lines := bytes.Split(b, []byte("\n"))
	partial := len(lines[len(lines)-1]) > 0 // the last line has no end
	for i, l := range lines[:len(lines)-1] {
		l = bytes.TrimSuffix(l, []byte("\r"))
		name, size, ok := parseListLine(verb, string(l))
		if !ok {
			return false, false, fmt.Sprintf("line %d unreadable: %q", i+1, shorten(string(l), 80))
		}
		if name == "." || name == ".." {
			continue
		}
		w, known := want[name]
		switch {
		case !known:
			return false, false, fmt.Sprintf("line %d: unknown entry %q", i+1, name)
		case seen[name]:
			return false, false, fmt.Sprintf("line %d: %q twice", i+1, name)
		case size != w:
			return false, false, fmt.Sprintf("line %d: %q size %d, want %d", i+1, name, size, w)
		}
		seen[name] = true
	}
	if partial || len(seen) != len(want) {
		return false, true, fmt.Sprintf("%d of %d entries (last line cut: %v)", len(seen), len(want), partial)
	}
	return true, true, fmt.Sprintf("%d entries", len(seen))
}

// parseListLine reads the name and size of one LIST line (ls -l style: mode,
// links, owner, group, size, month, day, time or year, name) or MLSD line
// ("fact=value;...; name"). Directories' sizes are not checked (size -1).
func parseListLine(verb, l string) (name string, size int64, ok bool) {
	if verb == "MLSD" {
		facts, name, ok := strings.Cut(l, " ")
		if !ok || name == "" {
			return "", 0, false
		}
		size = -1
		for _, f := range strings.Split(strings.TrimSuffix(facts, ";"), ";") {
			k, v, _ := strings.Cut(f, "=")
			switch strings.ToLower(k) {
			case "type":
				if v = strings.ToLower(v); v == "cdir" || v == "pdir" {
					return ".", 0, true
				}
			case "size":
				n, err := strconv.ParseInt(v, 10, 64)
				if err != nil {
					return "", 0, false
				}
				size = n
			}
		}
		return name, size, size >= 0
	}
	f := strings.Fields(l)
	if len(f) < 9 {
		return "", 0, false
	}
	n, err := strconv.ParseInt(f[4], 10, 64)
	if err != nil {
		return "", 0, false
	}
	return strings.Join(f[8:], " "), n, true
}

// uploadCycle stores a new file of random size and content, checks it on the
// server's disk, reads it back one time in four, and deletes it.
func (s *soakSession) uploadCycle() {
	s.seq++
	name := fmt.Sprintf("%s/s%03d-%06d.bin", soakUpDir, s.id, s.seq)
	disk := filepath.Join(s.run.r.env.data, name)
	body := make([]byte, soakMinSize+s.rng.IntN(soakMaxSize-soakMinSize+1))
	for i := 0; i < len(body); i += 8 {
		v := s.rng.Uint64()
		for j := 0; j < 8 && i+j < len(body); j++ {
			body[i+j] = byte(v >> (8 * j))
		}
	}
	x := s.transfer("STOR "+name, true, func(conn net.Conn) (int64, error) {
		k, err := conn.Write(body)
		return int64(k), err
	})
	onDisk, derr := os.ReadFile(disk)
	exact := derr == nil && bytes.Equal(onDisk, body)
	// No final 2xx: the upload failed, and a file left under its name (an
	// atomic upload leaves none) counts as short data.
	leftover := x.code/100 != 2 && derr == nil
	if leftover {
		_ = os.Remove(disk)
	}
	ok := s.record(opStor, "STOR", x, exact, !leftover, func() string {
		d := fmt.Sprintf("%s: sent %d of %d bytes", name, x.n, len(body))
		switch {
		case derr != nil:
			d += fmt.Sprintf("; on disk: %v", derr)
		default:
			d += fmt.Sprintf("; on disk %d bytes", len(onDisk))
			if i := firstDiff(onDisk, body); i >= 0 {
				d += fmt.Sprintf(", first wrong byte at %d", i)
			}
		}
		return d
	})
	if !ok || s.c == nil {
		return
	}
	if s.rng.IntN(4) == 0 && !s.download(opReadBack, name, body) || s.c == nil {
		return
	}
	t0 := time.Now()
	code, msg, err := s.c.cmd(0, "DELE "+name)
	took := time.Since(t0)
	switch {
	case err != nil:
		s.run.st.fail(eControl, "DELE", s.secure, s.since(), err.Error())
		s.drop()
	case code/100 != 2:
		s.run.st.fail(eReply, "DELE", s.secure, s.since(), fmt.Sprintf("%s: %d %s", name, code, msg))
	default:
		if _, err := os.Lstat(disk); err == nil {
			s.run.st.fail(eDele, "DELE", s.secure, s.since(), name)
			return
		}
		s.run.st.ok(opDele, s.secure, 0, took)
	}
}

// firstDiff returns the first offset where a and b differ (or where the
// shorter ends), or -1 when they are equal.
func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	if len(a) != len(b) {
		return min(len(a), len(b))
	}
	return -1
}

// soakResult is one soak's outcome, for the report.
type soakResult struct {
	srv               *server
	sessions          int
	duration          time.Duration // asked for
	took              time.Duration // from the first session's start to the last one's end
	st                *soakStats
	before, after     resSample
	during            []resSample
	countersBefore    map[string]float64
	countersAfter     map[string]float64
	logWarn, logError int
	logMsgs           map[string]int
}

// soak runs the soak against srv and returns its result; the error says
// whether anything went wrong (the report is complete either way).
func soak(ctx context.Context, r *runner, srv *server, stderr io.Writer) (*soakResult, error) {
	o := r.o
	content, err := loadSoakContent(r.env.data)
	if err != nil {
		return nil, err
	}
	// Uploads left by an earlier, interrupted run.
	if ents, err := os.ReadDir(filepath.Join(r.env.data, soakUpDir)); err == nil {
		for _, e := range ents {
			_ = os.Remove(filepath.Join(r.env.data, soakUpDir, e.Name()))
		}
	}
	res := &soakResult{srv: srv, sessions: o.soakSessions, duration: o.soakDuration,
		st: &soakStats{errs: map[soakErrKey]int64{}, perKind: map[string]int{}}}
	prober := newResProber(srv)
	res.before = prober.sample()
	res.countersBefore = prober.counters()
	logStart := fileSize(srv.logPath)

	run := &soakRun{r: r, srv: srv, content: content, st: res.st, start: time.Now()}
	end := run.start.Add(o.soakDuration)
	// Sessions start spread over the first tenth of the run (at most 10 s).
	ramp := min(o.soakDuration/10, 10*time.Second)
	sctx, stopSampling := context.WithCancel(ctx)
	var sampled sync.WaitGroup
	sampled.Go(func() {
		t := time.NewTicker(o.soakSample)
		defer t.Stop()
		last := time.Now()
		for {
			select {
			case <-sctx.Done():
				return
			case <-t.C:
			}
			smp := prober.sample()
			res.during = append(res.during, smp)
			if time.Since(last) >= 30*time.Second {
				last = time.Now()
				ops, n := res.st.total()
				logf(stderr, "soak %s +%s: %d operations, %s, %d errors (%d 226 with wrong data); server RSS %.0f MiB, %d fds, %s goroutines",
					srv.name, time.Since(run.start).Round(time.Second), ops, fmtMB(n), res.st.errCount(""), res.st.errCount(eWrong226),
					float64(smp.rssKiB)/1024, smp.fds, fmtOpt(smp.goroutines))
			}
		}
	})
	var wg sync.WaitGroup
	for i := range o.soakSessions {
		s := &soakSession{run: run, id: i, secure: i%2 == 1, buf: make([]byte, 64<<10),
			rng: mrand.New(mrand.NewPCG(uint64(time.Now().UnixNano()), uint64(i)))}
		delay := ramp * time.Duration(i) / time.Duration(o.soakSessions)
		wg.Go(func() {
			t := time.NewTimer(delay)
			defer t.Stop()
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			s.loop(ctx, end)
		})
	}
	wg.Wait()
	res.took = time.Since(run.start)
	stopSampling()
	sampled.Wait()
	// The server's state once every session has quit: what it holds then is
	// what it keeps.
	settle(ctx, 3*time.Second)
	res.after = prober.sample()
	res.countersAfter = prober.counters()
	res.logWarn, res.logError, res.logMsgs = scanLog(srv.logPath, logStart)
	if ctx.Err() != nil {
		return res, ctx.Err()
	}
	if n := res.st.errCount(""); n > 0 {
		return res, fmt.Errorf("soak %s: %d errors, %d of them 226 with wrong or empty data", srv.name, n, res.st.errCount(eWrong226))
	}
	return res, nil
}

func fmtMB(n int64) string { return fmt.Sprintf("%.1f MB", float64(n)/1e6) }

func fmtOpt(v int64) string {
	if v < 0 {
		return "n/a"
	}
	return strconv.FormatInt(v, 10)
}

func fileSize(path string) int64 {
	if path == "" {
		return 0
	}
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return fi.Size()
}

// scanLog counts the warn and error lines the server logged after offset, by
// message. Text (level=WARN msg=...) and JSON ("level":"WARN","msg":...) logs.
func scanLog(path string, offset int64) (warn, errs int, msgs map[string]int) {
	msgs = map[string]int{}
	if path == "" {
		return 0, 0, msgs
	}
	f, err := os.Open(path)
	if err != nil {
		return 0, 0, msgs
	}
	defer f.Close()
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		return 0, 0, msgs
	}
	b, _ := io.ReadAll(io.LimitReader(f, 1<<30))
	for _, l := range strings.Split(string(b), "\n") {
		lvl := ""
		switch {
		case strings.Contains(l, "passive port released"):
			// At info, but a data connection that never came is worth a line.
			lvl = "INFO"
		case strings.Contains(l, "level=WARN"), strings.Contains(l, `"level":"WARN"`):
			lvl, warn = "WARN", warn+1
		case strings.Contains(l, "level=ERROR"), strings.Contains(l, `"level":"ERROR"`):
			lvl, errs = "ERROR", errs+1
		default:
			continue
		}
		msgs[lvl+" "+logMsg(l)]++
	}
	return warn, errs, msgs
}

// logMsg extracts the message of a text or JSON log line.
func logMsg(l string) string {
	for _, key := range []string{`msg="`, `"msg":"`} {
		if i := strings.Index(l, key); i >= 0 {
			rest := l[i+len(key):]
			if j := strings.Index(rest, `"`); j >= 0 {
				return rest[:j]
			}
		}
	}
	if i := strings.Index(l, "msg="); i >= 0 {
		f := strings.Fields(l[i+4:])
		if len(f) > 0 {
			return f[0]
		}
	}
	return shorten(l, 80)
}

// soakSummary is the short verdict printed with the report.
func (res *soakResult) ops() (ops, bytes int64) { return res.st.total() }

// kinds returns the error counts by kind and mode.
func (res *soakResult) kinds() map[string][2]int64 {
	out := map[string][2]int64{}
	res.st.mu.Lock()
	defer res.st.mu.Unlock()
	for k, v := range res.st.errs {
		c := out[k.kind]
		c[b2i(k.tls)] += v
		out[k.kind] = c
	}
	return out
}

// sortedKeys returns m's keys, by descending count, then by name.
func sortedKeys(m map[string]int) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b string) int {
		if m[a] != m[b] {
			return m[b] - m[a]
		}
		return strings.Compare(a, b)
	})
	return keys
}
