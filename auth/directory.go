package auth

import (
	"context"
	"net/netip"
	"strings"
)

// anonymousName is the user that the logins "ftp" and "anonymous" reach.
const anonymousName = "anonymous"

// Directory is an immutable set of users with the login check. The server
// builds a new one on each configuration reload; the Verifier it uses lives
// on. Safe for concurrent use.
type Directory struct {
	users map[string]*User
	v     *Verifier
}

// NewDirectory indexes users by name (nil entries are skipped; of two users
// with the same name the later wins). A nil v gets a Verifier with default
// settings.
func NewDirectory(users []*User, v *Verifier) *Directory {
	if v == nil {
		v = NewVerifier(0, 0, 0)
	}
	d := &Directory{users: make(map[string]*User, len(users)), v: v}
	for _, u := range users {
		if u != nil {
			d.users[u.Name] = u
		}
	}
	return d
}

// Lookup resolves a login name: exact match first; "ftp" and "anonymous"
// (case-insensitive) both map to the user named "anonymous" when that user
// has Anonymous = true.
func (d *Directory) Lookup(name string) (*User, bool) {
	if u, ok := d.users[name]; ok {
		return u, true
	}
	if strings.EqualFold(name, "ftp") || strings.EqualFold(name, anonymousName) {
		if u, ok := d.users[anonymousName]; ok && u.Anonymous {
			return u, true
		}
	}
	return nil, false
}

// Len returns the number of users.
func (d *Directory) Len() int { return len(d.users) }

// Authenticate checks a login by name and password from remote. Every
// failure returns an error wrapping ErrLoginFailed that carries the reason
// for the log (see LoginFailureReason); only ErrLoginFailed's text is meant
// for the client. Failures that are decided without a password check
// (unknown or disabled user, address refused, no password set) still cost
// one Verifier.Burn, so timing does not tell them apart from a bad password.
// Anonymous users accept any password, including an empty one; a user with
// no PasswordHash that is not anonymous always fails here (certificate
// logins are decided by the server before).
//
// Every failure takes at least as long as the slowest recent password check
// (Verifier.Pad), so its timing tells nothing about the user or its hash.
func (d *Directory) Authenticate(ctx context.Context, name, password string, remote netip.Addr) (*User, error) {
	start := d.v.now()
	u, err := d.authenticate(ctx, name, password, remote)
	if err != nil {
		d.v.Pad(ctx, start)
	}
	return u, err
}

// Calibrate teaches the verifier's failure floor the cost of each kind of
// hash the directory's users have (see Verifier.Calibrate).
func (d *Directory) Calibrate(ctx context.Context) {
	var hashes []string
	for _, u := range d.users {
		if u.PasswordHash != "" {
			hashes = append(hashes, u.PasswordHash)
		}
	}
	d.v.Calibrate(ctx, hashes)
}

func (d *Directory) authenticate(ctx context.Context, name, password string, remote netip.Addr) (*User, error) {
	u, ok := d.Lookup(name)
	switch {
	case !ok:
		return nil, d.refuse(ctx, ReasonUnknownUser)
	case u.Disabled:
		return nil, d.refuse(ctx, ReasonDisabled)
	case !u.AllowedFrom(remote):
		return nil, d.refuse(ctx, ReasonAddress)
	case u.Anonymous:
		return u, nil
	case u.PasswordHash == "":
		return nil, d.refuse(ctx, ReasonNoPassword)
	}
	match, err := d.v.Verify(ctx, u.PasswordHash, password)
	switch {
	case err != nil && ctx.Err() != nil:
		return nil, &loginError{reason: ReasonCheckAbandoned, cause: err}
	case err != nil:
		return nil, &loginError{reason: ReasonMalformedHash, cause: err}
	case !match:
		return nil, &loginError{reason: ReasonBadPassword}
	}
	return u, nil
}

// refuse burns one check's worth of work and returns the failure.
func (d *Directory) refuse(ctx context.Context, reason string) error {
	d.v.Burn(ctx)
	return &loginError{reason: reason}
}
