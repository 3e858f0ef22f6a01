package server

import (
	"net/netip"
	"testing"
)

// TestRegistryLoggedIn: the data connections' check behind a balancer asks
// whether any session of an address is logged in; two sessions of one address
// keep it so until both have logged out.
func TestRegistryLoggedIn(t *testing.T) {
	r := newRegistry()
	a, b := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("2001:db8::1")
	if r.loggedIn(a) {
		t.Fatal("logged in before any login")
	}
	r.login(a)
	r.login(a)
	r.login(b)
	r.logout(a)
	if !r.loggedIn(a) || !r.loggedIn(b) {
		t.Fatal("an address with a logged-in session is not counted")
	}
	r.logout(a)
	r.logout(b)
	if r.loggedIn(a) || r.loggedIn(b) || len(r.logged) != 0 {
		t.Fatalf("logged out addresses still counted: %v", r.logged)
	}
}
