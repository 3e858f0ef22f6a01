package admin

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"sync"
	"time"
)

// cookieName is the page's session cookie.
const cookieName = "wharf_admin"

// maxLogins bounds the page sessions kept; the oldest go first.
const maxLogins = 1024

// principal is who makes a request.
type principal struct {
	user  string // "" on a unix socket
	role  string // RoleAdmin or RoleViewer
	login *login // the page session, when the cookie authenticated the request
}

func (p principal) canChange() bool { return p.role == RoleAdmin }

// login is one page session, made by the login form.
type login struct {
	user, role string
	csrf       string // the token the page's forms carry
	expires    time.Time
}

// loginStore keeps page sessions by the SHA-256 of their cookie value.
type loginStore struct {
	mu       sync.Mutex
	lifetime time.Duration
	max      int
	m        map[[32]byte]*login
}

func newLoginStore(lifetime time.Duration, max int) *loginStore {
	return &loginStore{lifetime: lifetime, max: max, m: map[[32]byte]*login{}}
}

// add makes a session for user and returns its cookie value: 256 random bits.
func (ls *loginStore) add(user, role string, now time.Time) (string, *login) {
	id := rand.Text() + rand.Text() // 2 × 128 bits, base32
	l := &login{user: user, role: role, csrf: rand.Text(), expires: now.Add(ls.lifetime)}
	ls.mu.Lock()
	defer ls.mu.Unlock()
	for k, v := range ls.m {
		if !now.Before(v.expires) {
			delete(ls.m, k)
		}
	}
	for len(ls.m) >= ls.max {
		var oldest [32]byte
		var t time.Time
		for k, v := range ls.m {
			if t.IsZero() || v.expires.Before(t) {
				oldest, t = k, v.expires
			}
		}
		delete(ls.m, oldest)
	}
	ls.m[sha256.Sum256([]byte(id))] = l
	return id, l
}

// get returns the live session of a cookie value.
func (ls *loginStore) get(id string, now time.Time) (*login, bool) {
	if id == "" {
		return nil, false
	}
	k := sha256.Sum256([]byte(id))
	ls.mu.Lock()
	defer ls.mu.Unlock()
	l, ok := ls.m[k]
	if !ok {
		return nil, false
	}
	if !now.Before(l.expires) {
		delete(ls.m, k)
		return nil, false
	}
	return l, true
}

// remove ends the session of a cookie value.
func (ls *loginStore) remove(id string) {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	delete(ls.m, sha256.Sum256([]byte(id)))
}

// authenticate finds who makes r: anyone on a unix socket, else HTTP Basic
// credentials or the page's cookie. ok is false when neither is there or
// valid; failed credentials have been logged and reported.
func (s *Server) authenticate(r *http.Request) (p principal, ok bool) {
	if s.opt.Unix {
		return principal{role: RoleAdmin}, true
	}
	if user, pass, has := r.BasicAuth(); has {
		role, ok := s.verify(r, user, pass)
		if !ok {
			return principal{}, false
		}
		return principal{user: user, role: role}, true
	}
	if c, err := r.Cookie(cookieName); err == nil {
		if l, ok := s.logins.get(c.Value, time.Now()); ok {
			return principal{user: l.user, role: l.role, login: l}, true
		}
	}
	return principal{}, false
}

// verify checks an account's password; a failure is logged and reported to
// OnLoginFailure.
func (s *Server) verify(r *http.Request, user, pass string) (role string, ok bool) {
	if s.opt.Users != nil && len(user) <= 256 && len(pass) <= 1024 {
		role, ok = s.opt.Users(user, pass)
	}
	remote := remoteAddr(r)
	if !ok {
		s.log.Warn("admin: login failed", "user", user, "remote", remote)
		if s.opt.OnLoginFailure != nil && remote.IsValid() {
			s.opt.OnLoginFailure(remote)
		}
		return "", false
	}
	if role != RoleAdmin {
		role = RoleViewer
	}
	return role, true
}

// validToken reports whether a form's token is p's.
func (s *Server) validToken(p principal, token string) bool {
	want := s.unixTok
	if p.login != nil {
		want = p.login.csrf
	} else if !s.opt.Unix {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(token), []byte(want)) == 1
}

// token is the form token for p's page.
func (s *Server) token(p principal) string {
	if p.login != nil {
		return p.login.csrf
	}
	return s.unixTok
}
