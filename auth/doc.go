// Package auth holds wharf's accounts and the checks made before and at login:
// IP networks and filters (a sorted-range prefix set), password hashes
// (argon2id, bcrypt) with a bounded, cached verifier, the user directory,
// per-user session counting and the autoban of addresses that fail too often.
//
// The package never sees the configuration file: the server maps its text
// onto the value types and parsers defined here.
package auth
