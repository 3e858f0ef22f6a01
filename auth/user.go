package auth

import "net/netip"

// User is one account, with its groups already resolved by the server.
type User struct {
	Name                string
	PasswordHash        string    // "" only for anonymous users or certificate-only logins
	Anonymous           bool      // any password accepted
	Disabled            bool      // every login refused
	MaxSessions         int       // 0 = unlimited
	RequireTLS          bool      // must log in over TLS
	TLSCertificateLogin bool      // a verified client certificate naming the user logs in
	Filters             []*Filter // the user's and its groups' ipfilters; ALL must allow (nil entries ignored)
}

// AllowedFrom reports whether every one of the user's filters allows a.
func (u *User) AllowedFrom(a netip.Addr) bool {
	for _, f := range u.Filters {
		if !f.Allowed(a) { // a nil *Filter allows everything
			return false
		}
	}
	return true
}
