package admin_test

import (
	"net/http"
	"net/netip"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/wharf-ftp/wharf/admin"
)

// form posts a form with an optional cookie, without following redirects.
func (in *instance) form(t *testing.T, path string, cookie *http.Cookie, values url.Values, header map[string]string) answer {
	t.Helper()
	hr, err := http.NewRequest("POST", in.base+path, strings.NewReader(values.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	hr.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for k, v := range header {
		hr.Header.Set(k, v)
	}
	if cookie != nil {
		hr.AddCookie(cookie)
	}
	return in.raw(t, hr)
}

// get fetches a path with an optional cookie.
func (in *instance) get(t *testing.T, path string, cookie *http.Cookie) answer {
	t.Helper()
	hr, _ := http.NewRequest("GET", in.base+path, nil)
	if cookie != nil {
		hr.AddCookie(cookie)
	}
	return in.raw(t, hr)
}

func (in *instance) raw(t *testing.T, hr *http.Request) answer {
	t.Helper()
	c := *in.client
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := c.Do(hr)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b strings.Builder
	buf := make([]byte, 32<<10)
	for {
		n, err := resp.Body.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			break
		}
	}
	return answer{code: resp.StatusCode, header: resp.Header, body: []byte(b.String())}
}

// login logs in through the form and returns the session cookie.
func (in *instance) login(t *testing.T, user, pass string) *http.Cookie {
	t.Helper()
	a := in.form(t, "/login", nil, url.Values{"user": {user}, "password": {pass}}, nil)
	if a.code != http.StatusSeeOther {
		t.Fatalf("login %s: %d %s", user, a.code, a.body)
	}
	resp := http.Response{Header: a.header}
	for _, c := range resp.Cookies() {
		if c.Name == "wharf_admin" {
			return c
		}
	}
	t.Fatalf("login set no cookie: %v", a.header)
	return nil
}

var tokenRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func pageToken(t *testing.T, a answer) string {
	t.Helper()
	m := tokenRE.FindSubmatch(a.body)
	if m == nil {
		t.Fatalf("no form token in the page:\n%s", a.body)
	}
	return string(m[1])
}

func TestLoginForm(t *testing.T) {
	in := startTCP(t, nil)
	a := in.get(t, "/", nil)
	if a.code != 200 || a.header.Get("WWW-Authenticate") != "" || !strings.Contains(string(a.body), `action="/login"`) {
		t.Fatalf("/ without login: %d %v", a.code, a.header)
	}
	a = in.form(t, "/login", nil, url.Values{"user": {adminUser}, "password": {"nope"}}, nil)
	if a.code != 403 || len(a.header.Values("Set-Cookie")) != 0 || !strings.Contains(string(a.body), "Wrong user name or password") {
		t.Fatalf("wrong password: %d %v", a.code, a.header)
	}
	if got := in.loginFailures(); len(got) != 1 {
		t.Errorf("failed form login not reported: %v", got)
	}
	// Login from another site is refused before the password is looked at.
	a = in.form(t, "/login", nil, url.Values{"user": {adminUser}, "password": {adminPass}}, map[string]string{"Origin": "https://evil.example"})
	if a.code != 403 || len(a.header.Values("Set-Cookie")) != 0 {
		t.Errorf("cross-origin login: %d", a.code)
	}

	c := in.login(t, adminUser, adminPass)
	if !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Secure || c.MaxAge <= 0 || len(c.Value) < 43 || c.Path != "/" {
		t.Errorf("cookie: %+v", c)
	}
	// The cookie works for the API, reads and same-origin changes alike.
	a = in.get(t, "/api/v1/status", c)
	if a.code != 200 {
		t.Errorf("API with the cookie: %d", a.code)
	}
	hr, _ := http.NewRequest("POST", in.base+"/api/v1/reload", nil)
	hr.AddCookie(c)
	hr.Header.Set("Origin", "https://evil.example")
	if a := in.raw(t, hr); a.code != 403 {
		t.Errorf("cross-origin change with the cookie: %d", a.code)
	}
	hr, _ = http.NewRequest("POST", in.base+"/api/v1/reload", nil)
	hr.AddCookie(c)
	hr.Header.Set("Sec-Fetch-Site", "same-origin")
	if a := in.raw(t, hr); a.code != 200 {
		t.Errorf("same-origin change with the cookie: %d", a.code)
	}

	// Log out: the cookie is dead.
	page := in.get(t, "/", c)
	a = in.form(t, "/logout", c, url.Values{"csrf": {pageToken(t, page)}}, nil)
	if a.code != http.StatusSeeOther {
		t.Fatalf("logout: %d", a.code)
	}
	if a := in.get(t, "/api/v1/status", c); a.code != 401 {
		t.Errorf("API after logout: %d", a.code)
	}
	if a := in.get(t, "/", c); !strings.Contains(string(a.body), `action="/login"`) {
		t.Error("page after logout is not the login form")
	}
}

func TestSecureCookieUnderTLS(t *testing.T) {
	in := startTCP(t, func(o *admin.Options) { o.TLS = true })
	if c := in.login(t, adminUser, adminPass); !c.Secure {
		t.Errorf("cookie under TLS not Secure: %+v", c)
	}
}

func TestSessionExpires(t *testing.T) {
	in := startTCP(t, func(o *admin.Options) { o.SessionLifetime = 50 * time.Millisecond })
	c := in.login(t, adminUser, adminPass)
	eventually(t, "the login to expire", func() bool { return in.get(t, "/api/v1/status", c).code == 401 })
}

func TestPageShowsAndActs(t *testing.T) {
	in := startTCP(t, nil)
	evil := sampleSession("s1", "192.0.2.10")
	evil.User = `<script>alert(1)</script>`
	in.backend.AddSession(evil)
	in.backend.AddSession(sampleSession("s2", "192.0.2.11"))
	in.backend.AddBan(admin.Ban{Address: netip.MustParsePrefix("198.51.100.7/32"), Until: time.Now().Add(time.Hour), Reason: admin.ReasonAutoban, Failures: 5})
	in.backend.SetUsers([]admin.User{{Name: "alice", Groups: []string{"staff"}, Folders: []admin.Folder{{Mount: "/", QuotaSize: 1000, UsedSize: 250}}}})
	in.backend.RejectReloads([]string{"/etc/wharf/wharf.toml:7: unknown key \"bannr\""})
	in.backend.Reload(t.Context())

	c := in.login(t, adminUser, adminPass)
	a := in.get(t, "/", c)
	body := string(a.body)
	for _, want := range []string{
		"&lt;script&gt;alert(1)&lt;/script&gt;", `<progress max="10000" value="1000">10%</progress>`, "/big.iso",
		"198.51.100.7/32", "alice", "staff", `action="/kick"`, `action="/unban"`, "wharf.toml:7: unknown key", "last reload rejected",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if strings.Contains(body, "<script>alert") || strings.Contains(body, "style=") || regexp.MustCompile(`<script>`).MatchString(body) {
		t.Error("page has unescaped or inline content")
	}
	if a.header.Get("Cache-Control") != "no-store" {
		t.Errorf("page Cache-Control %q", a.header.Get("Cache-Control"))
	}
	tok := pageToken(t, a)

	// Without the token, with a wrong one, or from another site: refused.
	for _, f := range []struct {
		v url.Values
		h map[string]string
	}{
		{url.Values{"id": {"s1"}}, nil},
		{url.Values{"id": {"s1"}, "csrf": {"x" + tok}}, nil},
		{url.Values{"id": {"s1"}, "csrf": {tok}}, map[string]string{"Sec-Fetch-Site": "cross-site"}},
	} {
		if a := in.form(t, "/kick", c, f.v, f.h); a.code != 403 {
			t.Errorf("kick %v %v: %d", f.v, f.h, a.code)
		}
	}
	if a := in.form(t, "/kick", nil, url.Values{"id": {"s1"}, "csrf": {tok}}, nil); a.code != 401 {
		t.Errorf("kick without the cookie: %d", a.code)
	}
	if ss, _ := in.backend.Sessions(t.Context()); len(ss) != 2 {
		t.Fatalf("refused kicks kicked: %v", ss)
	}

	a = in.form(t, "/kick", c, url.Values{"id": {"s1"}, "csrf": {tok}}, nil)
	if a.code != http.StatusSeeOther || a.header.Get("Location") != "/?m=kicked#sessions" {
		t.Fatalf("kick: %d %s", a.code, a.header.Get("Location"))
	}
	if !strings.Contains(string(in.get(t, "/?m=kicked", c).body), "The session was closed.") {
		t.Error("no message after the kick")
	}
	a = in.form(t, "/ban", c, url.Values{"address": {"192.0.2.11"}, "duration": {"1h"}, "note": {"from the page"}, "csrf": {tok}}, nil)
	if a.header.Get("Location") != "/?m=banned#bans" {
		t.Fatalf("ban: %d %s", a.code, a.header.Get("Location"))
	}
	a = in.form(t, "/ban", c, url.Values{"address": {"nonsense"}, "csrf": {tok}}, nil)
	if a.header.Get("Location") != "/?m=bad-address#bans" {
		t.Errorf("bad ban: %s", a.header.Get("Location"))
	}
	a = in.form(t, "/unban", c, url.Values{"address": {"198.51.100.7/32"}, "csrf": {tok}}, nil)
	if a.header.Get("Location") != "/?m=unbanned#bans" {
		t.Errorf("unban: %s", a.header.Get("Location"))
	}
	a = in.form(t, "/reload", c, url.Values{"csrf": {tok}}, nil)
	if a.header.Get("Location") != "/?m=reload-rejected#config" {
		t.Errorf("reload: %s", a.header.Get("Location"))
	}
	in.backend.RejectReloads(nil)
	a = in.form(t, "/reload", c, url.Values{"csrf": {tok}}, nil)
	if a.header.Get("Location") != "/?m=reloaded#config" {
		t.Errorf("reload: %s", a.header.Get("Location"))
	}
	bs, _ := in.backend.Bans(t.Context())
	if len(bs) != 1 || bs[0].Note != "from the page" {
		t.Errorf("bans after the page's changes: %+v", bs)
	}
	if a := in.form(t, "/reload", c, url.Values{"csrf": {tok}, "pad": {strings.Repeat("x", 64<<10)}}, nil); a.code != 413 {
		t.Errorf("oversized form: %d", a.code)
	}
	if a := in.get(t, "/kick", c); a.code != 405 || a.header.Get("Allow") != "POST" {
		t.Errorf("GET /kick: %d %q", a.code, a.header.Get("Allow"))
	}
}

func TestViewerPage(t *testing.T) {
	in := startTCP(t, nil)
	in.backend.AddSession(sampleSession("s1", "192.0.2.10"))
	c := in.login(t, viewerUser, viewerPass)
	a := in.get(t, "/", c)
	body := string(a.body)
	if !strings.Contains(body, "/big.iso") || strings.Contains(body, `action="/kick"`) || strings.Contains(body, `action="/reload"`) {
		t.Errorf("viewer page shows changes or lacks sessions")
	}
	tok := pageToken(t, a) // the logout form's
	if a := in.form(t, "/kick", c, url.Values{"id": {"s1"}, "csrf": {tok}}, nil); a.code != 403 {
		t.Errorf("viewer kick: %d", a.code)
	}
	if ss, _ := in.backend.Sessions(t.Context()); len(ss) != 1 {
		t.Error("viewer kicked")
	}
}

func TestUnixPage(t *testing.T) {
	in, _ := startUnix(t, nil)
	in.backend.AddSession(sampleSession("s1", "192.0.2.10"))
	a := in.get(t, "/", nil)
	if a.code != 200 || !strings.Contains(string(a.body), `action="/kick"`) {
		t.Fatalf("page over the socket: %d", a.code)
	}
	tok := pageToken(t, a)
	if a := in.form(t, "/kick", nil, url.Values{"id": {"s1"}, "csrf": {"wrong"}}, nil); a.code != 403 {
		t.Errorf("kick with a wrong token: %d", a.code)
	}
	if a := in.form(t, "/kick", nil, url.Values{"id": {"s1"}, "csrf": {tok}}, nil); a.code != 303 {
		t.Errorf("kick: %d", a.code)
	}
}

func TestStaticAssets(t *testing.T) {
	in := startTCP(t, nil)
	for _, c := range []struct{ path, ctype string }{
		{"/static/style.css", "text/css; charset=utf-8"},
		{"/static/live.js", "text/javascript; charset=utf-8"},
		{"/static/icon.svg", "image/svg+xml"},
	} {
		a := in.get(t, c.path, nil)
		if a.code != 200 || a.header.Get("Content-Type") != c.ctype || a.header.Get("ETag") == "" || len(a.body) == 0 {
			t.Errorf("%s: %d %q", c.path, a.code, a.header.Get("Content-Type"))
		}
	}
	for _, p := range []string{
		"/static/", "/static/nope.css", "/static/../admin.go", "/static/%2e%2e/page.go", "/static/..%2fpage.go",
		"/static/templates%2Findex.html", "/static/%2e%2e%2f%2e%2e%2fetc%2fpasswd", "/static/style.css/x", "/assets/static/style.css",
		"/static//etc/passwd", "/page.go",
	} {
		hr, _ := http.NewRequest("GET", in.base+"/", nil)
		hr.URL.Opaque = p // sent as written
		a := in.raw(t, hr)
		if a.code == 200 || strings.Contains(string(a.body), "package admin") || strings.Contains(string(a.body), "root:") {
			t.Errorf("%s: %d", p, a.code)
		}
	}
	if a := in.form(t, "/static/style.css", nil, nil, nil); a.code != 405 {
		t.Errorf("POST static: %d", a.code)
	}
}
