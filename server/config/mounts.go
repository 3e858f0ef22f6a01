package config

import (
	"sort"

	"github.com/wharf-ftp/wharf/fs"
)

// Mounts returns u's mount table: the union of its groups' folders and its
// own. Where two share a mount point the user's own folder wins, then the
// later group in u.Groups. The table is sorted by mount point.
func (c *Config) Mounts(u *User) []fs.Mount {
	folders := c.Folders(u)
	out := make([]fs.Mount, 0, len(folders))
	for _, f := range folders {
		out = append(out, fs.Mount{Path: f.Mount, Dir: f.Path, Perm: f.Perm})
	}
	return out
}

// Folders returns the folders behind u's mount table (see Mounts), sorted by
// mount point.
func (c *Config) Folders(u *User) []Folder {
	byMount := map[string]Folder{}
	add := func(folders []Folder) {
		for _, f := range folders {
			byMount[f.Mount] = f
		}
	}
	for _, name := range u.Groups {
		if g, ok := c.Groups[name]; ok {
			add(g.Folders)
		}
	}
	add(u.Folders)
	out := make([]Folder, 0, len(byMount))
	for _, f := range byMount {
		out = append(out, f)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Mount < out[j].Mount })
	return out
}

// UserLimits returns u's rate caps: per direction, the user's own limit, else
// that of the first of its groups (in order) that sets one, else 0 (no
// per-user cap).
func (c *Config) UserLimits(u *User) Limits {
	var l Limits
	overrides := []RateOverride{u.Limits}
	for _, name := range u.Groups {
		if g, ok := c.Groups[name]; ok {
			overrides = append(overrides, g.Limits)
		}
	}
	var down, up bool
	for _, o := range overrides {
		if o.Download != nil && !down {
			l.Download, down = *o.Download, true
		}
		if o.Upload != nil && !up {
			l.Upload, up = *o.Upload, true
		}
	}
	return l
}

// UserFilters returns the IP filters that apply to u at login: its own, then
// those of its groups in order; empty filters are left out.
func (c *Config) UserFilters(u *User) []IPFilter {
	var out []IPFilter
	if !u.IPFilter.IsEmpty() {
		out = append(out, u.IPFilter)
	}
	for _, name := range u.Groups {
		if g, ok := c.Groups[name]; ok && !g.IPFilter.IsEmpty() {
			out = append(out, g.IPFilter)
		}
	}
	return out
}
