package admin

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// maxBody bounds a request body.
const maxBody = 64 << 10

// maxNote bounds a ban's note, in bytes.
const maxNote = 500

// handler answers a request made by p.
type handler func(w http.ResponseWriter, r *http.Request, p principal)

// methods maps HTTP methods to the handlers of one path.
type methods map[string]handler

// routes registers every path.
func (s *Server) routes() {
	s.api("/api/v1/status", methods{http.MethodGet: s.apiStatus})
	s.api("/api/v1/sessions", methods{http.MethodGet: s.apiSessions})
	s.api("/api/v1/sessions/{id}", methods{http.MethodDelete: s.apiKick})
	s.api("/api/v1/bans", methods{http.MethodGet: s.apiBans, http.MethodPost: s.apiBan})
	s.api("/api/v1/bans/{address...}", methods{http.MethodDelete: s.apiUnban})
	s.api("/api/v1/reload", methods{http.MethodPost: s.apiReload})
	s.api("/api/v1/upgrade", methods{http.MethodPost: s.apiUpgrade})
	s.api("/api/v1/users", methods{http.MethodGet: s.apiUsers})
	s.api("/api/v1/events", methods{http.MethodGet: s.apiEvents})
	s.mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		if _, ok := s.authenticate(r); !ok {
			s.unauthorized(w)
			return
		}
		writeError(w, http.StatusNotFound, "no such API path")
	})
	s.pageRoutes()
}

// api registers the handlers of an API path: authentication (401), then the
// method (405), then the role (403 for a viewer's change).
func (s *Server) api(pattern string, ms methods) {
	allow := allowed(ms)
	s.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		p, ok := s.authenticate(r)
		if !ok {
			s.unauthorized(w)
			return
		}
		h := ms[r.Method]
		if h == nil && r.Method == http.MethodHead {
			h = ms[http.MethodGet]
		}
		if h == nil {
			w.Header().Set("Allow", allow)
			writeError(w, http.StatusMethodNotAllowed, fmt.Sprintf("method %s not allowed (allowed: %s)", r.Method, allow))
			return
		}
		if !safeMethod(r.Method) && !p.canChange() {
			writeError(w, http.StatusForbidden, "the viewer role cannot change anything")
			return
		}
		w.Header().Set("Cache-Control", "no-store")
		h(w, r, p)
	})
}

// allowed is the Allow header for ms.
func allowed(ms methods) string {
	var names []string
	for m := range ms {
		names = append(names, m)
		if m == http.MethodGet {
			names = append(names, http.MethodHead)
		}
	}
	slices.Sort(names)
	return strings.Join(names, ", ")
}

func safeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}

func isAPI(r *http.Request) bool { return strings.HasPrefix(r.URL.Path, "/api/") }

func (s *Server) unauthorized(w http.ResponseWriter) {
	w.Header().Set("WWW-Authenticate", `Basic realm="wharf admin", charset="UTF-8"`)
	writeError(w, http.StatusUnauthorized, "authentication required")
}

// writeJSON answers v as JSON with status code.
func writeJSON(w http.ResponseWriter, code int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "cannot encode the answer")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	w.Write(append(b, '\n'))
}

// writeError answers {"error": msg} with status code.
func writeError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, ErrorBody{Error: msg})
}

// backendError answers a Backend's error.
func (s *Server) backendError(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, ErrNotFound):
		writeError(w, http.StatusNotFound, err.Error())
	case errors.Is(err, ErrNotImplemented):
		writeError(w, http.StatusNotImplemented, err.Error())
	default:
		s.log.Error("admin: request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		writeError(w, http.StatusInternalServerError, err.Error())
	}
}

// readJSON decodes a request body of at most maxBody bytes holding one JSON
// object with known fields only into v. On failure it has answered.
func readJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	r.Body = http.MaxBytesReader(w, r.Body, maxBody)
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil {
		if dec.Decode(new(json.RawMessage)) != io.EOF {
			err = errors.New("more than one JSON value")
		}
	}
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("request body larger than %d bytes", maxBody))
			return false
		}
		writeError(w, http.StatusBadRequest, "bad JSON body: "+err.Error())
		return false
	}
	return true
}

// drainBody reads and drops a body that the route does not use, bounded.
func drainBody(w http.ResponseWriter, r *http.Request) bool {
	r.Body = http.MaxBytesReader(w, r.Body, maxBody)
	if _, err := io.Copy(io.Discard, r.Body); err != nil {
		writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("request body larger than %d bytes", maxBody))
		return false
	}
	return true
}

func (s *Server) apiStatus(w http.ResponseWriter, r *http.Request, _ principal) {
	st, err := s.opt.Backend.Status(r.Context())
	if err != nil {
		s.backendError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, normStatus(st))
}

func (s *Server) apiSessions(w http.ResponseWriter, r *http.Request, _ principal) {
	ss, err := s.opt.Backend.Sessions(r.Context())
	if err != nil {
		s.backendError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, normSessions(ss))
}

func (s *Server) apiKick(w http.ResponseWriter, r *http.Request, p principal) {
	id := r.PathValue("id")
	if !drainBody(w, r) {
		return
	}
	if err := s.opt.Backend.Kick(r.Context(), id); err != nil {
		if errors.Is(err, ErrNotFound) {
			writeError(w, http.StatusNotFound, fmt.Sprintf("no session %q", id))
			return
		}
		s.backendError(w, r, err)
		return
	}
	s.audit(r, p, "admin: session kicked", "id", id)
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) apiBans(w http.ResponseWriter, r *http.Request, _ principal) {
	bs, err := s.opt.Backend.Bans(r.Context())
	if err != nil {
		s.backendError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, normBans(bs))
}

func (s *Server) apiBan(w http.ResponseWriter, r *http.Request, p principal) {
	var req BanRequest
	if !readJSON(w, r, &req) {
		return
	}
	prefix, d, note, msg := parseBan(req)
	if msg != "" {
		writeError(w, http.StatusBadRequest, msg)
		return
	}
	b, err := s.opt.Backend.Ban(r.Context(), prefix, d, note)
	if err != nil {
		s.backendError(w, r, err)
		return
	}
	s.audit(r, p, "admin: address banned", "address", prefix, "duration", d, "note", note)
	w.Header().Set("Location", "/api/v1/bans/"+url.PathEscape(prefix.String()))
	writeJSON(w, http.StatusCreated, normBan(b))
}

func (s *Server) apiUnban(w http.ResponseWriter, r *http.Request, p principal) {
	if !drainBody(w, r) {
		return
	}
	prefix, err := ParseBanAddress(r.PathValue("address"))
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	if err := s.opt.Backend.Unban(r.Context(), prefix); err != nil {
		if errors.Is(err, ErrNotFound) {
			writeError(w, http.StatusNotFound, fmt.Sprintf("no ban for %s", prefix))
			return
		}
		s.backendError(w, r, err)
		return
	}
	s.audit(r, p, "admin: ban lifted", "address", prefix)
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) apiReload(w http.ResponseWriter, r *http.Request, p principal) {
	if !drainBody(w, r) {
		return
	}
	res, err := s.reload(r, p)
	if err != nil {
		s.backendError(w, r, err)
		return
	}
	if !res.OK {
		writeJSON(w, http.StatusUnprocessableEntity, ErrorBody{
			Error:  "configuration rejected; the running configuration is unchanged",
			Errors: nonNil(res.Errors),
		})
		return
	}
	writeJSON(w, http.StatusOK, ReloadResult{OK: true})
}

// reload runs a reload for p and logs its outcome.
func (s *Server) reload(r *http.Request, p principal) (ReloadResult, error) {
	res, err := s.opt.Backend.Reload(r.Context())
	switch {
	case err != nil:
	case res.OK:
		s.audit(r, p, "admin: configuration reloaded")
	default:
		s.audit(r, p, "admin: configuration rejected", "errors", len(res.Errors))
	}
	return res, err
}

func (s *Server) apiUpgrade(w http.ResponseWriter, r *http.Request, p principal) {
	if !drainBody(w, r) {
		return
	}
	if err := s.opt.Backend.Upgrade(r.Context()); err != nil {
		if errors.Is(err, ErrNotImplemented) {
			writeError(w, http.StatusNotImplemented, "upgrade is not available on this server")
			return
		}
		s.backendError(w, r, err)
		return
	}
	s.audit(r, p, "admin: upgrade started")
	writeJSON(w, http.StatusAccepted, ReloadResult{OK: true})
}

func (s *Server) apiUsers(w http.ResponseWriter, r *http.Request, _ principal) {
	us, err := s.opt.Backend.Users(r.Context())
	if err != nil {
		s.backendError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, normUsers(us))
}

// audit logs a change with who made it.
func (s *Server) audit(r *http.Request, p principal, msg string, args ...any) {
	who := []any{"admin_user", p.user, "remote", remoteAddr(r)}
	if s.opt.Unix {
		who = []any{"via", "unix socket"}
	}
	s.log.Info(msg, append(args, who...)...)
}

// ParseBanAddress parses the address of a ban: an IP address, meaning its
// /32 (IPv4) or /64 (IPv6), or a prefix, which is masked (at most a /8 for
// IPv4, a /16 for IPv6).
func ParseBanAddress(s string) (netip.Prefix, error) {
	s = strings.TrimSpace(s)
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("%q is not an IP address or prefix", s)
		}
		if p.Addr().Is4In6() {
			if p.Bits() < 96 {
				return netip.Prefix{}, fmt.Errorf("%q mixes IPv4-mapped and IPv6 addresses", s)
			}
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		}
		if p.Addr().Zone() != "" {
			return netip.Prefix{}, fmt.Errorf("%q is not an IP address or prefix", s)
		}
		if widest := minBanBits(p.Addr()); p.Bits() < widest {
			return netip.Prefix{}, fmt.Errorf("%q is too wide: a ban covers at most a /%d", s, widest)
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		return netip.Prefix{}, fmt.Errorf("%q is not an IP address or prefix", s)
	}
	a = a.Unmap()
	bits := 32
	if a.Is6() {
		bits = 64
	}
	return netip.PrefixFrom(a, bits).Masked(), nil
}

// minBanBits is the widest prefix a ban may cover: a /0 typed by mistake
// would refuse everyone.
func minBanBits(a netip.Addr) int {
	if a.Is4() {
		return 8
	}
	return 16
}

// parseBan checks a ban request; msg says what is wrong.
func parseBan(req BanRequest) (p netip.Prefix, d time.Duration, note, msg string) {
	p, err := ParseBanAddress(req.Address)
	if err != nil {
		return p, 0, "", err.Error()
	}
	if req.Duration != "" {
		d, err = time.ParseDuration(req.Duration)
		if err != nil || d <= 0 {
			return p, 0, "", fmt.Sprintf("duration %q is not a positive Go duration (e.g. \"1h\", \"30m\")", req.Duration)
		}
	}
	note = strings.TrimSpace(req.Note)
	if len(note) > maxNote || !utf8.ValidString(note) || strings.ContainsFunc(note, func(r rune) bool { return r < ' ' || r == 0x7f }) {
		return p, 0, "", fmt.Sprintf("note must be at most %d bytes of text on one line", maxNote)
	}
	return p, d, note, ""
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// The norm functions put times in UTC and lists never null.

func normStatus(st Status) Status {
	st.StartedAt = st.StartedAt.UTC()
	st.ConfigLoadedAt = st.ConfigLoadedAt.UTC()
	st.ConfigErrors = nonNil(st.ConfigErrors)
	return st
}

func normSessions(ss []Session) []Session {
	out := make([]Session, len(ss))
	for i, x := range ss {
		x.ConnectedAt = x.ConnectedAt.UTC()
		if x.Transfer != nil {
			t := *x.Transfer
			t.StartedAt = t.StartedAt.UTC()
			x.Transfer = &t
		}
		out[i] = x
	}
	return out
}

func normBan(b Ban) Ban {
	b.Until = b.Until.UTC()
	return b
}

func normBans(bs []Ban) []Ban {
	out := make([]Ban, len(bs))
	for i, b := range bs {
		out[i] = normBan(b)
	}
	return out
}

func normUsers(us []User) []User {
	out := make([]User, len(us))
	for i, u := range us {
		u.Groups = nonNil(u.Groups)
		u.Folders = nonNil(u.Folders)
		out[i] = u
	}
	return out
}
