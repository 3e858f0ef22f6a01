// Package fs is one account's virtual file tree, served to ftpserverlib as its ClientDriver.
//
// A Tree is built from the account's mounts: each maps a virtual path onto a real directory with
// a set of permissions (Perm). Every real access goes through an *os.Root per mount, so no path,
// ".." or symbolic link can reach outside a mounted directory. Errors carry virtual paths only.
//
// Transfers go through handles that keep the kernel's zero-copy paths (sendfile, splice) when no
// limit applies, and otherwise share token buckets (Limiter) whose rate can change while they
// run. Uploads can be atomic: written to a hidden temporary file, renamed into place only when
// complete. Rates (Rate) and permission names have their own parsers, for the configuration.
package fs
