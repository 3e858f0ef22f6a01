package auth

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"
)

func TestDirectoryLookup(t *testing.T) {
	anon := &User{Name: "anonymous", Anonymous: true}
	alice := &User{Name: "alice", PasswordHash: "x"}
	ftpUser := &User{Name: "ftp", PasswordHash: "y"}
	tests := []struct {
		name  string
		users []*User
		login string
		want  *User
	}{
		{name: "exact", users: []*User{alice, anon}, login: "alice", want: alice},
		{name: "case-sensitive names", users: []*User{alice, anon}, login: "Alice"},
		{name: "unknown", users: []*User{alice, anon}, login: "bob"},
		{name: "ftp", users: []*User{alice, anon}, login: "ftp", want: anon},
		{name: "FTP", users: []*User{alice, anon}, login: "FTP", want: anon},
		{name: "anonymous", users: []*User{alice, anon}, login: "anonymous", want: anon},
		{name: "Anonymous", users: []*User{alice, anon}, login: "Anonymous", want: anon},
		{name: "no anonymous user", users: []*User{alice}, login: "ftp"},
		{name: "user named anonymous but not anonymous", users: []*User{{Name: "anonymous", PasswordHash: "z"}}, login: "ftp"},
		{name: "exact ftp user wins", users: []*User{anon, ftpUser}, login: "ftp", want: ftpUser},
		{name: "nil users skipped", users: []*User{nil, alice}, login: "alice", want: alice},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := NewDirectory(tt.users, NewVerifier(1, 0, 0))
			got, ok := d.Lookup(tt.login)
			if got != tt.want || ok != (tt.want != nil) {
				t.Fatalf("Lookup(%q) = %v, %v; want %v", tt.login, got, ok, tt.want)
			}
		})
	}
}

func TestDirectoryAuthenticate(t *testing.T) {
	lan := NewFilter(prefixes(t, "192.0.2.0/24"), nil)
	noBad := NewFilter(nil, prefixes(t, "192.0.2.66"))
	users := []*User{
		{Name: "alice", PasswordHash: cheapHash(t, "secret")},
		{Name: "argon", PasswordHash: mustHash(t, "secret")},
		{Name: "bob", PasswordHash: cheapHash(t, "secret"), Disabled: true},
		{Name: "carol", PasswordHash: cheapHash(t, "secret"), Filters: []*Filter{lan, nil, noBad}},
		{Name: "certonly", TLSCertificateLogin: true},
		{Name: "broken", PasswordHash: "plain-text"},
		{Name: "anonymous", Anonymous: true},
		{Name: "lananon", Anonymous: true, Filters: []*Filter{lan}},
	}
	in := netip.MustParseAddr("192.0.2.7")
	out := netip.MustParseAddr("198.51.100.7")
	tests := []struct {
		name, login, password string
		remote                netip.Addr
		wantUser              string // "" = failure
		wantReason            string
		wantHashes            int64
	}{
		{name: "ok bcrypt", login: "alice", password: "secret", remote: out, wantUser: "alice", wantHashes: 1},
		{name: "ok argon2id", login: "argon", password: "secret", remote: out, wantUser: "argon", wantHashes: 1},
		{name: "bad password", login: "alice", password: "wrong", remote: out, wantReason: ReasonBadPassword, wantHashes: 1},
		{name: "empty password", login: "alice", password: "", remote: out, wantReason: ReasonBadPassword, wantHashes: 1},
		{name: "unknown user burns", login: "mallory", password: "secret", remote: out, wantReason: ReasonUnknownUser, wantHashes: 1},
		{name: "disabled burns", login: "bob", password: "secret", remote: out, wantReason: ReasonDisabled, wantHashes: 1},
		{name: "filter allows", login: "carol", password: "secret", remote: in, wantUser: "carol", wantHashes: 1},
		{name: "filter allows mapped", login: "carol", password: "secret", remote: netip.MustParseAddr("::ffff:192.0.2.7"), wantUser: "carol", wantHashes: 1},
		{name: "filter refuses", login: "carol", password: "secret", remote: out, wantReason: ReasonAddress, wantHashes: 1},
		{name: "second filter refuses", login: "carol", password: "secret", remote: netip.MustParseAddr("192.0.2.66"), wantReason: ReasonAddress, wantHashes: 1},
		{name: "certificate-only user", login: "certonly", password: "", remote: out, wantReason: ReasonNoPassword, wantHashes: 1},
		{name: "unusable hash", login: "broken", password: "plain-text", remote: out, wantReason: ReasonMalformedHash, wantHashes: 1},
		{name: "anonymous any password", login: "ftp", password: "me@example.com", remote: out, wantUser: "anonymous"},
		{name: "anonymous empty password", login: "anonymous", password: "", remote: out, wantUser: "anonymous"},
		{name: "anonymous filtered", login: "lananon", password: "", remote: out, wantReason: ReasonAddress, wantHashes: 1},
	}
	v := NewVerifier(2, time.Minute, 100)
	d := NewDirectory(users, v)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v.cache = newSuccessCache(time.Minute, 100) // every case computes its hash
			before := v.hashes.Load()
			u, err := d.Authenticate(context.Background(), tt.login, tt.password, tt.remote)
			if n := v.hashes.Load() - before; n != tt.wantHashes {
				t.Errorf("%d hashes computed; want %d", n, tt.wantHashes)
			}
			if tt.wantUser != "" {
				if err != nil || u == nil || u.Name != tt.wantUser {
					t.Fatalf("Authenticate = %v, %v; want user %s", u, err, tt.wantUser)
				}
				return
			}
			if u != nil || !errors.Is(err, ErrLoginFailed) {
				t.Fatalf("Authenticate = %v, %v; want ErrLoginFailed", u, err)
			}
			if got := LoginFailureReason(err); got != tt.wantReason {
				t.Fatalf("reason %q; want %q", got, tt.wantReason)
			}
			if strings.Contains(err.Error(), tt.password) && tt.password != "" {
				t.Fatalf("error %q contains the password", err)
			}
		})
	}
}

func TestDirectoryUnknownAndBadPasswordLookAlike(t *testing.T) {
	d := NewDirectory([]*User{{Name: "alice", PasswordHash: cheapHash(t, "secret")}}, NewVerifier(1, 0, 0))
	remote := netip.MustParseAddr("192.0.2.1")
	_, errUnknown := d.Authenticate(context.Background(), "bob", "secret", remote)
	_, errBad := d.Authenticate(context.Background(), "alice", "wrong", remote)
	for _, err := range []error{errUnknown, errBad} {
		if !errors.Is(err, ErrLoginFailed) {
			t.Fatalf("%v does not wrap ErrLoginFailed", err)
		}
	}
	// What a client may be shown is ErrLoginFailed's text, the same for both.
	if ErrLoginFailed.Error() != "login incorrect" {
		t.Fatalf("client text %q", ErrLoginFailed)
	}
	if LoginFailureReason(errUnknown) == LoginFailureReason(errBad) {
		t.Fatal("the log reasons should differ")
	}
	if LoginFailureReason(errors.New("other")) != "" || LoginFailureReason(nil) != "" {
		t.Fatal("LoginFailureReason of a foreign error is not empty")
	}
}

func TestDirectoryAuthenticateContext(t *testing.T) {
	v := NewVerifier(1, 0, 0)
	d := NewDirectory([]*User{{Name: "alice", PasswordHash: cheapHash(t, "secret")}}, v)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := d.Authenticate(ctx, "alice", "secret", netip.MustParseAddr("192.0.2.1"))
	if !errors.Is(err, ErrLoginFailed) || !errors.Is(err, context.Canceled) || LoginFailureReason(err) != ReasonCheckAbandoned {
		t.Fatalf("Authenticate with a cancelled context = %v (reason %q)", err, LoginFailureReason(err))
	}
}

func TestUserAllowedFrom(t *testing.T) {
	u := &User{}
	if !u.AllowedFrom(netip.MustParseAddr("192.0.2.1")) {
		t.Fatal("a user without filters must be allowed from anywhere")
	}
	u.Filters = []*Filter{nil, NewFilter(nil, nil)}
	if !u.AllowedFrom(netip.MustParseAddr("192.0.2.1")) {
		t.Fatal("nil and empty filters must allow")
	}
}

// mustHash hashes pw with HashPassword.
func mustHash(t testing.TB, pw string) string {
	t.Helper()
	h, err := HashPassword(pw)
	if err != nil {
		t.Fatal(err)
	}
	return h
}
