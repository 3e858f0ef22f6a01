package config

import (
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/wharf-ftp/wharf/auth"
	"github.com/wharf-ftp/wharf/fs"
)

// defaultFolderPerm applies to a folder that sets no permissions and whose
// group (if any) sets none either.
const defaultFolderPerm = fs.PermList | fs.PermRead

// groups reads every [groups.NAME] table.
func (c *checker) groups(t *table, cfg *Config) {
	for _, name := range t.keys() {
		gt := t.sub(name)
		if gt == nil {
			continue
		}
		if msg := checkAccountName(name); msg != "" {
			c.errorf(gt.at, "group name %q %s", name, msg)
		}
		g := &Group{Name: name}
		if p, ok := c.permissions(gt); ok {
			g.Perm = &p
		}
		if lt := gt.sub("limits"); lt != nil {
			c.rateOverride(lt, &g.Limits)
		}
		if ft := gt.sub("ipfilter"); ft != nil {
			g.IPFilter = c.ipfilter(ft)
		}
		perm := defaultFolderPerm
		if g.Perm != nil {
			perm = *g.Perm
		}
		g.Folders = c.folders(gt, perm, "group "+quote(name))
		gt.finish()
		cfg.Groups[name] = g
	}
	t.finish()
}

// users reads every [users.NAME] table; groups must have been read.
func (c *checker) users(t *table, cfg *Config) {
	for _, name := range t.keys() {
		ut := t.sub(name)
		if ut == nil {
			continue
		}
		if msg := checkAccountName(name); msg != "" {
			c.errorf(ut.at, "user name %q %s", name, msg)
		}
		u := &User{Name: name, Home: "/"}
		hasPassword := ut.str("password", &u.Password) && u.Password != ""
		ut.strings("groups", &u.Groups)
		if ut.str("home", &u.Home) {
			if clean, msg := virtualPath(u.Home); msg != "" {
				c.keyErrorf(ut.loc("home"), "%s", msg)
			} else {
				u.Home = clean
			}
		}
		ut.boolean("disabled", &u.Disabled)
		ut.integer("max_sessions", 0, &u.MaxSessions)
		ut.boolean("require_tls", &u.RequireTLS)
		ut.boolean("tls_certificate_login", &u.TLSCertificateLogin)
		if lt := ut.sub("limits"); lt != nil {
			c.rateOverride(lt, &u.Limits)
		}
		if ft := ut.sub("ipfilter"); ft != nil {
			u.IPFilter = c.ipfilter(ft)
		}
		ut.boolean("anonymous", &u.Anonymous)
		u.Folders = c.folders(ut, defaultFolderPerm, "user "+quote(name))
		ut.finish()

		switch {
		case u.Anonymous && name != "anonymous":
			c.keyErrorf(ut.loc("anonymous"), "only the user named \"anonymous\" can be anonymous")
		case u.Anonymous && hasPassword:
			c.keyErrorf(ut.loc("password"), "anonymous user needs no password")
		case u.Anonymous:
		case hasPassword:
			if err := auth.CheckHash(u.Password); err != nil {
				c.keyErrorf(ut.loc("password"), "%v", err)
			}
		case !u.TLSCertificateLogin:
			c.errorf(ut.at, "user %q has no password", name)
		}
		if u.Anonymous {
			u.Password = ""
		}
		c.memberships(ut, u, cfg)
		cfg.Users[name] = u
	}
	t.finish()
}

// memberships checks u's groups, and that u gets at least one folder.
func (c *checker) memberships(ut *table, u *User, cfg *Config) {
	folders := len(u.Folders)
	seen := map[string]bool{}
	for _, g := range u.Groups {
		grp, ok := cfg.Groups[g]
		switch {
		case !ok:
			c.keyErrorf(ut.loc("groups"), "user %q names unknown group %q", u.Name, g)
		case seen[g]:
			c.keyErrorf(ut.loc("groups"), "user %q names group %q twice", u.Name, g)
		default:
			folders += len(grp.Folders)
		}
		seen[g] = true
	}
	if folders == 0 {
		c.errorf(ut.at, "user %q has no folder (own or from a group)", u.Name)
	}
}

// permissions reads the optional permissions list of t.
func (c *checker) permissions(t *table) (fs.Perm, bool) {
	var names []string
	if !t.strings("permissions", &names) {
		return 0, false
	}
	perms, ok := eachEntry(c, t.loc("permissions"), names, func(name string) (fs.Perm, error) {
		return fs.ParsePermissions([]string{name})
	})
	if !ok {
		return 0, false
	}
	var p fs.Perm
	for _, q := range perms {
		p |= q
	}
	return p, true
}

// folders reads the [[...folders]] of a group or user (named by owner in
// messages); perm applies to folders that set no permissions.
func (c *checker) folders(t *table, perm fs.Perm, owner string) []Folder {
	var out []Folder
	mounts := map[string]bool{}
	for _, ft := range t.tables("folders") {
		f, ok := c.folder(ft, perm)
		if !ok {
			continue
		}
		if mounts[f.Mount] {
			c.errorf(ft.loc("mount"), "mount %q is used twice by %s", f.Mount, owner)
			continue
		}
		mounts[f.Mount] = true
		out = append(out, f)
	}
	return out
}

// folder reads one folder table.
func (c *checker) folder(t *table, perm fs.Perm) (Folder, bool) {
	f := Folder{Perm: perm, Line: c.lines.line(t.at)}
	ok := true
	if t.str("mount", &f.Mount) {
		clean, msg := virtualPath(f.Mount)
		if msg != "" {
			c.keyErrorf(t.loc("mount"), "%s", msg)
			ok = false
		}
		f.Mount = clean
	} else {
		if !t.has("mount") {
			c.errorf(t.at, "a folder needs a mount")
		}
		ok = false
	}
	isString := t.str("path", &f.Path)
	if t.str("store", &f.Store) {
		switch {
		case f.Store == "":
			c.keyErrorf(t.loc("store"), "must not be empty")
			ok = false
		case !c.stores[f.Store]:
			c.keyErrorf(t.loc("store"), "names unknown store %q (define it as [stores.%s])", f.Store, f.Store)
			ok = false
		}
	}
	switch {
	case f.Store != "":
		// path is the key prefix inside the store; "" or absent = the store's own prefix
		if isString {
			prefix, msg := keyPrefix(f.Path)
			if msg != "" {
				c.keyErrorf(t.loc("path"), "%q %s", f.Path, msg)
				ok = false
			}
			f.Path = prefix
		}
	case !t.has("path"):
		c.errorf(t.at, "a folder needs a path")
		ok = false
	case !isString:
		ok = false
	case f.Path == "":
		c.keyErrorf(t.loc("path"), "must not be empty")
		ok = false
	default:
		f.Path = c.resolve(f.Path)
		c.folderPathExists(t.loc("path"), f.Path)
	}
	if p, set := c.permissions(t); set {
		f.Perm = p
	}
	if qt := t.sub("quota"); qt != nil {
		c.quota(qt, &f.Quota)
	}
	t.finish()
	return f, ok
}

// virtualPath checks and cleans a virtual path (a mount point or a home):
// absolute, without ".." elements, and no element named like an upload's
// temporary file (such a path is hidden from every command).
func virtualPath(p string) (string, string) {
	if fs.IsReservedPath(p) {
		return "", quote(p) + " names an element starting with " + quote(fs.ReservedPrefix) +
			", which is reserved for uploads in progress (hidden from every command)"
	}
	if !strings.HasPrefix(p, "/") {
		return "", quote(p) + " must be an absolute path such as \"/shared\""
	}
	if slices.Contains(strings.Split(p, "/"), "..") {
		return "", quote(p) + " must not contain \"..\""
	}
	if strings.ContainsFunc(p, func(r rune) bool { return r < ' ' || r == 0x7f }) {
		return "", quote(p) + " must not contain control characters"
	}
	return path.Clean(p), ""
}

// checkAccountName returns why name cannot be a user or group name, or "".
func checkAccountName(name string) string {
	switch {
	case name == "":
		return "must not be empty"
	case strings.ContainsFunc(name, func(r rune) bool { return r < ' ' || r == 0x7f }):
		return "must not contain control characters"
	}
	return ""
}

// quote is strconv.Quote, short.
func quote(s string) string { return strconv.Quote(s) }
