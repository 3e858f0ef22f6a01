package ctl

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/wharf-ftp/wharf/admin"
)

// now is the clock for ages in tables.
var now = time.Now

func cmdStatus(c *client, o *options) error {
	var st admin.Status
	if printed, err := c.getJSON(o, "/api/v1/status", &st); printed || err != nil {
		return err
	}
	tw := table(o)
	row(tw, "node", orDash(st.Node))
	row(tw, "version", orDash(st.Version))
	row(tw, "pid", fmt.Sprint(st.PID))
	row(tw, "started", fmt.Sprintf("%s (%s ago)", stamp(st.StartedAt), age(st.StartedAt)))
	row(tw, "sessions", fmt.Sprint(st.Sessions))
	row(tw, "transfers", fmt.Sprint(st.Transfers))
	cfg := "ok"
	if !st.ConfigOK {
		cfg = "last reload rejected"
	}
	row(tw, "configuration", fmt.Sprintf("%s, loaded %s", cfg, stamp(st.ConfigLoadedAt)))
	tw.Flush()
	for _, line := range st.ConfigErrors {
		fmt.Fprintln(o.stdout, "  "+line)
	}
	return nil
}

func cmdSessions(c *client, o *options) error {
	var ss []admin.Session
	if printed, err := c.getJSON(o, "/api/v1/sessions", &ss); printed || err != nil {
		return err
	}
	if len(ss) == 0 {
		fmt.Fprintln(o.stdout, "no sessions")
		return nil
	}
	nodes := map[string]bool{}
	for _, s := range ss {
		nodes[s.Node] = true
	}
	showNode := len(nodes) > 1
	tw := table(o)
	head := "ID\tUSER\tREMOTE\tLISTENER\tTLS\tCONNECTED\tIDLE\tTRANSFER"
	if showNode {
		head = "ID\tNODE\tUSER\tREMOTE\tLISTENER\tTLS\tCONNECTED\tIDLE\tTRANSFER"
	}
	fmt.Fprintln(tw, head)
	for _, s := range ss {
		cols := []string{s.ID}
		if showNode {
			cols = append(cols, orDash(s.Node))
		}
		user := s.User
		if user == "" {
			user = "(login)"
		}
		tls := "no"
		if s.TLS {
			tls = "yes"
		}
		cols = append(cols, user, s.Remote.String(), s.Listener, tls, age(s.ConnectedAt)+" ago",
			(time.Duration(s.IdleSeconds) * time.Second).String(), transfer(s.Transfer))
		fmt.Fprintln(tw, strings.Join(cols, "\t"))
	}
	return tw.Flush()
}

// transfer describes a transfer in progress on one line.
func transfer(t *admin.Transfer) string {
	if t == nil {
		return "-"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s %s", t.Direction, t.Path, admin.FormatBytes(t.Bytes))
	if t.Size >= 0 {
		fmt.Fprintf(&b, " of %s", admin.FormatBytes(int64(t.Size)))
		if t.Size > 0 {
			fmt.Fprintf(&b, " (%d%%)", t.Bytes*100/int64(t.Size))
		}
	}
	fmt.Fprintf(&b, " at %s/s", admin.FormatBytes(t.BytesPerSecond))
	return b.String()
}

func cmdKick(c *client, o *options) error {
	id := o.args[1]
	if _, err := c.expect(o, http.MethodDelete, "/api/v1/sessions/"+url.PathEscape(id), nil, http.StatusNoContent); err != nil {
		return err
	}
	if !o.json {
		fmt.Fprintf(o.stdout, "session %s closed\n", id)
	}
	return nil
}

func cmdBans(c *client, o *options) error {
	var bs []admin.Ban
	if printed, err := c.getJSON(o, "/api/v1/bans", &bs); printed || err != nil {
		return err
	}
	if len(bs) == 0 {
		fmt.Fprintln(o.stdout, "no bans")
		return nil
	}
	tw := table(o)
	fmt.Fprintln(tw, "ADDRESS\tUNTIL\tREASON\tFAILURES\tNOTE")
	for _, b := range bs {
		fmt.Fprintf(tw, "%s\t%s (%s left)\t%s\t%d\t%s\n", b.Address, stamp(b.Until), left(b.Until), b.Reason, b.Failures, orDash(b.Note))
	}
	return tw.Flush()
}

func cmdBan(c *client, o *options) error {
	req := admin.BanRequest{Address: o.args[1], Duration: o.banFor, Note: o.note}
	a, err := c.expect(o, http.MethodPost, "/api/v1/bans", req, http.StatusCreated)
	if err != nil {
		return err
	}
	if o.json {
		printRaw(o, a.body)
		return nil
	}
	var b admin.Ban
	if err := json.Unmarshal(a.body, &b); err != nil {
		return fmt.Errorf("unexpected answer from the admin API: %v", err)
	}
	fmt.Fprintf(o.stdout, "%s banned until %s\n", b.Address, stamp(b.Until))
	return nil
}

func cmdUnban(c *client, o *options) error {
	addr := o.args[1]
	if _, err := c.expect(o, http.MethodDelete, "/api/v1/bans/"+url.PathEscape(addr), nil, http.StatusNoContent); err != nil {
		return err
	}
	if !o.json {
		fmt.Fprintf(o.stdout, "ban on %s lifted\n", addr)
	}
	return nil
}

func cmdReload(c *client, o *options) error {
	a, err := c.expect(o, http.MethodPost, "/api/v1/reload", nil, http.StatusOK)
	if err != nil {
		return err
	}
	if o.json {
		printRaw(o, a.body)
		return nil
	}
	fmt.Fprintln(o.stdout, "configuration reloaded")
	return nil
}

func cmdUpgrade(c *client, o *options) error {
	a, err := c.expect(o, http.MethodPost, "/api/v1/upgrade", nil, http.StatusAccepted)
	if err != nil {
		return err
	}
	if o.json {
		printRaw(o, a.body)
		return nil
	}
	fmt.Fprintln(o.stdout, "upgrade started")
	return nil
}

func cmdUsers(c *client, o *options) error {
	var us []admin.User
	if printed, err := c.getJSON(o, "/api/v1/users", &us); printed || err != nil {
		return err
	}
	if len(us) == 0 {
		fmt.Fprintln(o.stdout, "no users")
		return nil
	}
	tw := table(o)
	fmt.Fprintln(tw, "NAME\tGROUPS\tDISABLED\tSESSIONS\tFOLDERS")
	for _, u := range us {
		dis := "no"
		if u.Disabled {
			dis = "yes"
		}
		var fs []string
		for _, f := range u.Folders {
			fs = append(fs, folder(f))
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\n", u.Name, orDash(strings.Join(u.Groups, ",")), dis, u.Sessions, orDash(strings.Join(fs, ", ")))
	}
	return tw.Flush()
}

// folder describes a folder's usage: "/media 1.2 GB of 10.7 GB, 12 files".
func folder(f admin.Folder) string {
	s := f.Mount
	if f.UsedSize > 0 || f.QuotaSize > 0 {
		s += " " + admin.FormatBytes(f.UsedSize)
		if f.QuotaSize > 0 {
			s += " of " + admin.FormatBytes(f.QuotaSize)
		}
	}
	if f.UsedFiles > 0 || f.QuotaFiles > 0 {
		s += fmt.Sprintf(" %d", f.UsedFiles)
		if f.QuotaFiles > 0 {
			s += fmt.Sprintf(" of %d", f.QuotaFiles)
		}
		s += " files"
	}
	return s
}

func table(o *options) *tabwriter.Writer {
	return tabwriter.NewWriter(o.stdout, 0, 0, 2, ' ', 0)
}

func row(tw *tabwriter.Writer, k, v string) { fmt.Fprintf(tw, "%s\t%s\n", k, v) }

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// stamp prints a time in UTC, to the second.
func stamp(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

// age is the time since t, rounded to the second.
func age(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return now().Sub(t).Round(time.Second).String()
}

// left is the time until t, rounded to the second.
func left(t time.Time) string {
	d := t.Sub(now()).Round(time.Second)
	if d < 0 {
		d = 0
	}
	return d.String()
}
