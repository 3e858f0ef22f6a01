package admin

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"mime"
	"net/http"
	"net/netip"
	"path"
	"slices"
	"strings"
	"time"
)

//go:embed assets
var assetFS embed.FS

// asset is one embedded static file.
type asset struct {
	body  []byte
	ctype string
	etag  string
}

// assets are the static files by name, and each one's versioned URL.
var (
	assets    = map[string]asset{}
	assetURLs = map[string]string{}
	templates *template.Template
)

func init() {
	sub, _ := fs.Sub(assetFS, "assets/static")
	_ = fs.WalkDir(sub, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, _ := fs.ReadFile(sub, p)
		sum := sha256.Sum256(b)
		tag := hex.EncodeToString(sum[:8])
		ct := mime.TypeByExtension(path.Ext(p))
		if ct == "" {
			ct = "application/octet-stream"
		}
		assets[p] = asset{body: b, ctype: ct, etag: `"` + tag + `"`}
		assetURLs[p] = "/static/" + p + "?v=" + tag
		return nil
	})
	templates = template.Must(template.New("").Funcs(template.FuncMap{
		"asset":    func(name string) string { return assetURLs[name] },
		"bytes":    FormatBytes,
		"rfc3339":  func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
		"stamp":    func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05 UTC") },
		"ago":      func(t time.Time) string { return formatDuration(time.Since(t)) },
		"left":     func(t time.Time) string { return formatDuration(time.Until(t)) },
		"seconds":  func(n int64) string { return formatDuration(time.Duration(n) * time.Second) },
		"join":     strings.Join,
		"percent":  percent,
		"prefix":   func(p netip.Prefix) string { return p.String() },
		"quotaPct": func(used, quota int64) int64 { return percent(used, quota) },
	}).ParseFS(assetFS, "assets/templates/*.html"))
}

// pageRoutes registers the status page's paths.
func (s *Server) pageRoutes() {
	s.page("/{$}", methods{http.MethodGet: s.pageIndex}, false)
	s.page("/login", methods{http.MethodPost: s.pageLogin}, false)
	s.page("/logout", methods{http.MethodPost: s.pageLogout}, true)
	s.page("/kick", methods{http.MethodPost: s.pageKick}, true)
	s.page("/ban", methods{http.MethodPost: s.pageBan}, true)
	s.page("/unban", methods{http.MethodPost: s.pageUnban}, true)
	s.page("/reload", methods{http.MethodPost: s.pageReload}, true)
	s.mux.HandleFunc("/static/{name}", s.static)
	s.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		s.pageError(w, r, http.StatusNotFound, "There is no such page.")
	})
}

// page registers a page path. A form post (form true) needs the page's
// login and its form token; an admin's for changes.
func (s *Server) page(pattern string, ms methods, form bool) {
	allow := allowed(ms)
	s.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		h := ms[r.Method]
		if h == nil && r.Method == http.MethodHead {
			h = ms[http.MethodGet]
		}
		if h == nil {
			w.Header().Set("Allow", allow)
			s.pageError(w, r, http.StatusMethodNotAllowed, "This page does not answer "+r.Method+".")
			return
		}
		w.Header().Set("Cache-Control", "no-store")
		p, authed := s.pageAuth(r)
		if !form {
			h(w, r, p)
			return
		}
		if !authed {
			s.pageError(w, r, http.StatusUnauthorized, "Your login has expired: log in again.")
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, maxForm)
		if err := r.ParseForm(); err != nil {
			s.pageError(w, r, http.StatusRequestEntityTooLarge, "The form is too large.")
			return
		}
		if !s.validToken(p, r.PostForm.Get("csrf")) {
			s.log.Warn("admin: form without a valid token refused", "remote", remoteAddr(r), "path", r.URL.Path)
			s.pageError(w, r, http.StatusForbidden, "The form is stale or came from another site: reload the page and try again.")
			return
		}
		if pattern != "/logout" && !p.canChange() {
			s.pageError(w, r, http.StatusForbidden, "The viewer role cannot change anything.")
			return
		}
		h(w, r, p)
	})
}

// maxForm bounds a form post.
const maxForm = 16 << 10

// pageAuth finds who looks at the page: anyone on a unix socket, else the
// holder of a live login cookie.
func (s *Server) pageAuth(r *http.Request) (principal, bool) {
	if s.opt.Unix {
		return principal{role: RoleAdmin}, true
	}
	if c, err := r.Cookie(cookieName); err == nil {
		if l, ok := s.logins.get(c.Value, time.Now()); ok {
			return principal{user: l.user, role: l.role, login: l}, true
		}
	}
	return principal{}, false
}

// render writes a template.
func (s *Server) render(w http.ResponseWriter, code int, name string, data any) {
	var buf bytes.Buffer
	if err := templates.ExecuteTemplate(&buf, name, data); err != nil {
		s.log.Error("admin: page failed", "template", name, "err", err)
		http.Error(w, "the page failed; see the log", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(code)
	w.Write(buf.Bytes())
}

// pageError answers a page request with a short message and a way back.
func (s *Server) pageError(w http.ResponseWriter, _ *http.Request, code int, msg string) {
	s.render(w, code, "error.html", map[string]any{"Code": code, "Status": http.StatusText(code), "Message": msg})
}

// loginData is the login form's.
type loginData struct {
	User  string
	Error string
}

func (s *Server) pageLogin(w http.ResponseWriter, r *http.Request, _ principal) {
	if s.opt.Unix {
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxForm)
	if err := r.ParseForm(); err != nil {
		s.pageError(w, r, http.StatusRequestEntityTooLarge, "The form is too large.")
		return
	}
	user, pass := r.PostForm.Get("user"), r.PostForm.Get("password")
	role, ok := s.verify(r, user, pass)
	if !ok {
		s.render(w, http.StatusForbidden, "login.html", loginData{User: user, Error: "Wrong user name or password."})
		return
	}
	id, _ := s.logins.add(user, role, time.Now())
	http.SetCookie(w, &http.Cookie{
		Name: cookieName, Value: id, Path: "/", MaxAge: int(s.opt.SessionLifetime / time.Second),
		HttpOnly: true, Secure: s.opt.TLS, SameSite: http.SameSiteStrictMode,
	})
	s.log.Info("admin: login", "admin_user", user, "role", role, "remote", remoteAddr(r))
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

func (s *Server) pageLogout(w http.ResponseWriter, r *http.Request, p principal) {
	if c, err := r.Cookie(cookieName); err == nil {
		s.logins.remove(c.Value)
	}
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, Secure: s.opt.TLS, SameSite: http.SameSiteStrictMode})
	if p.user != "" {
		s.log.Info("admin: logout", "admin_user", p.user, "remote", remoteAddr(r))
	}
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// flashes are the messages a form's redirect names with ?m=.
var flashes = map[string]struct{ text, kind string }{
	"kicked":          {"The session was closed.", "ok"},
	"kick-gone":       {"That session had already gone.", "error"},
	"banned":          {"The address is banned; its sessions were closed.", "ok"},
	"unbanned":        {"The ban was lifted.", "ok"},
	"unban-gone":      {"That ban had already ended.", "error"},
	"reloaded":        {"The configuration was reloaded.", "ok"},
	"reload-rejected": {"The configuration file was rejected; the running configuration is unchanged.", "error"},
	"bad-address":     {"That is not an IP address or prefix (e.g. 192.0.2.7, 2001:db8::/64).", "error"},
	"bad-ban":         {"The ban was refused: the duration must be like 30m, 1h or 24h, the note one line of at most 500 bytes.", "error"},
	"failed":          {"That failed; the server log says why.", "error"},
}

// redirect ends a form post on the page with a message.
func redirect(w http.ResponseWriter, r *http.Request, msg, anchor string) {
	http.Redirect(w, r, "/?m="+msg+"#"+anchor, http.StatusSeeOther)
}

func (s *Server) pageKick(w http.ResponseWriter, r *http.Request, p principal) {
	id := r.PostForm.Get("id")
	err := s.opt.Backend.Kick(r.Context(), id)
	switch {
	case err == nil:
		s.audit(r, p, "admin: session kicked", "id", id)
		redirect(w, r, "kicked", "sessions")
	case isNotFound(err):
		redirect(w, r, "kick-gone", "sessions")
	default:
		s.log.Error("admin: kick failed", "id", id, "err", err)
		redirect(w, r, "failed", "sessions")
	}
}

func (s *Server) pageBan(w http.ResponseWriter, r *http.Request, p principal) {
	req := BanRequest{Address: r.PostForm.Get("address"), Duration: r.PostForm.Get("duration"), Note: r.PostForm.Get("note")}
	if _, err := ParseBanAddress(req.Address); err != nil {
		redirect(w, r, "bad-address", "bans")
		return
	}
	prefix, d, note, msg := parseBan(req)
	if msg != "" {
		redirect(w, r, "bad-ban", "bans")
		return
	}
	if _, err := s.opt.Backend.Ban(r.Context(), prefix, d, note); err != nil {
		s.log.Error("admin: ban failed", "address", prefix, "err", err)
		redirect(w, r, "failed", "bans")
		return
	}
	s.audit(r, p, "admin: address banned", "address", prefix, "duration", d, "note", note)
	redirect(w, r, "banned", "bans")
}

func (s *Server) pageUnban(w http.ResponseWriter, r *http.Request, p principal) {
	prefix, err := ParseBanAddress(r.PostForm.Get("address"))
	if err != nil {
		redirect(w, r, "bad-address", "bans")
		return
	}
	err = s.opt.Backend.Unban(r.Context(), prefix)
	switch {
	case err == nil:
		s.audit(r, p, "admin: ban lifted", "address", prefix)
		redirect(w, r, "unbanned", "bans")
	case isNotFound(err):
		redirect(w, r, "unban-gone", "bans")
	default:
		s.log.Error("admin: unban failed", "address", prefix, "err", err)
		redirect(w, r, "failed", "bans")
	}
}

func (s *Server) pageReload(w http.ResponseWriter, r *http.Request, p principal) {
	res, err := s.reload(r, p)
	switch {
	case err != nil:
		s.log.Error("admin: reload failed", "err", err)
		redirect(w, r, "failed", "config")
	case res.OK:
		redirect(w, r, "reloaded", "config")
	default:
		redirect(w, r, "reload-rejected", "config")
	}
}

// indexData is the status page's.
type indexData struct {
	User, Role  string
	CanChange   bool
	Unix        bool
	MultiNode   bool // sessions of more than one node: each row names its node
	Token       string
	Flash, Kind string
	Problems    []string
	Status      Status
	Sessions    []sessionView
	Bans        []Ban
	Users       []User
	Transfers   int
	Durations   []string
	GeneratedAt time.Time
}

// sessionView is a session with its transfer's figures worked out.
type sessionView struct {
	Session
	T *transferView
}

type transferView struct {
	Transfer
	Known     bool  // the size is known
	SizeBytes int64 // the size when known
	Percent   int64 // of the size
	ETA       string
}

func (s *Server) pageIndex(w http.ResponseWriter, r *http.Request, p principal) {
	if s.opt.Unix {
		p = principal{role: RoleAdmin}
	} else if p.login == nil {
		s.render(w, http.StatusOK, "login.html", loginData{})
		return
	}
	ctx := r.Context()
	d := indexData{User: p.user, Role: p.role, CanChange: p.canChange(), Unix: s.opt.Unix, Token: s.token(p),
		Durations: []string{"15m", "1h", "6h", "24h", "168h", "720h"}, GeneratedAt: time.Now().UTC()}
	if f, ok := flashes[r.URL.Query().Get("m")]; ok {
		d.Flash, d.Kind = f.text, f.kind
	}
	problem := func(what string, err error) {
		s.log.Error("admin: page data", "what", what, "err", err)
		d.Problems = append(d.Problems, fmt.Sprintf("Could not read the %s: %v", what, err))
	}
	var err error
	if d.Status, err = s.opt.Backend.Status(ctx); err != nil {
		problem("status", err)
	}
	d.Status = normStatus(d.Status)
	ss, err := s.opt.Backend.Sessions(ctx)
	if err != nil {
		problem("sessions", err)
	}
	slices.SortStableFunc(ss, func(a, b Session) int {
		return cmp.Or(a.ConnectedAt.Compare(b.ConnectedAt), strings.Compare(a.ID, b.ID))
	})
	for _, x := range ss {
		d.MultiNode = d.MultiNode || x.Node != ss[0].Node
		v := sessionView{Session: x}
		if x.Transfer != nil {
			d.Transfers++
			t := &transferView{Transfer: *x.Transfer, Known: x.Transfer.Size >= 0, SizeBytes: int64(x.Transfer.Size)}
			if t.Known {
				t.Percent = percent(t.Bytes, int64(t.Size))
				t.ETA = eta(t.Bytes, int64(t.Size), t.BytesPerSecond)
			}
			v.T = t
		}
		d.Sessions = append(d.Sessions, v)
	}
	if d.Bans, err = s.opt.Backend.Bans(ctx); err != nil {
		problem("bans", err)
	}
	slices.SortStableFunc(d.Bans, func(a, b Ban) int { return a.Until.Compare(b.Until) })
	if d.Users, err = s.opt.Backend.Users(ctx); err != nil {
		problem("users", err)
	}
	slices.SortStableFunc(d.Users, func(a, b User) int { return strings.Compare(a.Name, b.Name) })
	s.render(w, http.StatusOK, "index.html", d)
}

// static serves an embedded asset by its exact name; nothing else.
func (s *Server) static(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		s.pageError(w, r, http.StatusMethodNotAllowed, "Static files are only read.")
		return
	}
	a, ok := assets[r.PathValue("name")]
	if !ok {
		s.pageError(w, r, http.StatusNotFound, "There is no such file.")
		return
	}
	h := w.Header()
	h.Set("Content-Type", a.ctype)
	h.Set("ETag", a.etag)
	if r.URL.Query().Get("v") == strings.Trim(a.etag, `"`) {
		h.Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		h.Set("Cache-Control", "no-cache")
	}
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(a.body))
}

func isNotFound(err error) bool { return err != nil && errors.Is(err, ErrNotFound) }

// percent is part of whole in whole percent, 0 to 100.
func percent(part, whole int64) int64 {
	if whole <= 0 {
		return 0
	}
	return min(max(part*100/whole, 0), 100)
}

// eta is the time left at rate, or "" when it cannot be told.
func eta(done, size, rate int64) string {
	if rate <= 0 || size < done {
		return ""
	}
	return formatDuration(time.Duration(float64(size-done) / float64(rate) * float64(time.Second)))
}

// FormatBytes prints a byte count in powers of 1000: "999 B", "1.5 KB", "12.3 MB"
// (the status page and wharf ctl).
func FormatBytes(n int64) string {
	const unit = 1000
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 5; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %cB", float64(n)/float64(div), "KMGTPE"[exp])
}

// formatDuration prints a duration briefly: "42s", "3m 5s", "2h 10m", "3d 4h".
func formatDuration(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	sec := int64(d.Round(time.Second) / time.Second)
	switch {
	case sec < 60:
		return fmt.Sprintf("%ds", sec)
	case sec < 3600:
		return fmt.Sprintf("%dm %ds", sec/60, sec%60)
	case sec < 86400:
		return fmt.Sprintf("%dh %dm", sec/3600, sec%3600/60)
	default:
		return fmt.Sprintf("%dd %dh", sec/86400, sec%86400/3600)
	}
}
