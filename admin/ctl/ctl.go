// Package ctl is `wharf ctl`: a client of a running server's admin API that
// prints readable tables, or the API's JSON with --json.
package ctl

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

// Exit codes.
const (
	exitOK      = 0 // done
	exitFailure = 1 // refused or failed
	exitUsage   = 2 // bad command line
)

// DefaultConfig is the file that names the admin address when neither
// --config nor --admin is given.
const DefaultConfig = "/etc/wharf/wharf.toml"

// PasswordEnv holds the admin password over TCP.
const PasswordEnv = "WHARF_ADMIN_PASSWORD"

// DefaultUser is the account used over TCP without --user.
const DefaultUser = "admin"

const usage = `usage: wharf ctl [--config FILE | --admin ADDR] [--user NAME] [--json] COMMAND

Talks to a running server's admin API ([admin] listen).

Commands:
  status                                  the server: version, node, sessions, transfers, configuration
  sessions                                open sessions and their transfers
  kick ID                                 close a session (the client gets 421)
  bans                                    bans in force
  ban ADDRESS [--for DURATION] [--note TEXT]
                                          ban an address (its /32 or /64) or a prefix, e.g. 2001:db8::/48
  unban ADDRESS                           lift a ban
  reload                                  reload the configuration file (as SIGHUP)
  upgrade                                 start a gapless upgrade (as SIGUSR2)
  users                                   FTP accounts with their folders and quota usage

Options:
  --config FILE   read the admin address from this file (default ` + DefaultConfig + `)
  --admin ADDR    unix:PATH, http://host:port or https://host:port
  --user NAME     admin account over TCP (default ` + DefaultUser + `); the password comes from
                  ` + PasswordEnv + `, or is asked for on a terminal
  --json          print the API's JSON instead of a table

Exit status: 0 done, 1 refused or failed, 2 bad usage.
`

// command is one ctl command: its argument count and what it does.
type command struct {
	args int
	run  func(c *client, o *options) error
}

var commands = map[string]command{
	"status":   {0, cmdStatus},
	"sessions": {0, cmdSessions},
	"kick":     {1, cmdKick},
	"bans":     {0, cmdBans},
	"ban":      {1, cmdBan},
	"unban":    {1, cmdUnban},
	"reload":   {0, cmdReload},
	"upgrade":  {0, cmdUpgrade},
	"users":    {0, cmdUsers},
}

// options is the parsed command line.
type options struct {
	config, admin, user string
	json                bool
	help                bool
	banFor, note        string
	banForSet, noteSet  bool
	args                []string // the command and its arguments
	stdout, stderr      io.Writer
}

// usageError is a malformed command line.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

// failure is a refusal or failure already explained on stderr.
var errReported = errors.New("reported")

// Run runs `wharf ctl` with args (the words after "ctl") and returns the exit
// code. resolve reads the admin address from a configuration file (as
// `[admin] listen` says, "" when off); it returns "unix:PATH", or "host:port"
// (HTTP), or "https://host:port" when [admin] tls is set.
func Run(args []string, stdin io.Reader, stdout, stderr io.Writer, resolve func(configPath string) (string, error)) int {
	o, err := parseArgs(args)
	if err != nil {
		fmt.Fprintf(stderr, "wharf ctl: %v\n\n%s", err, usage)
		return exitUsage
	}
	o.stdout, o.stderr = stdout, stderr
	if o.help || (len(o.args) > 0 && o.args[0] == "help") {
		fmt.Fprint(stdout, usage)
		return exitOK
	}
	cmd := commands[o.args[0]]
	addr := o.admin
	if addr == "" {
		path := o.config
		if path == "" {
			path = DefaultConfig
		}
		if resolve == nil {
			fmt.Fprintln(stderr, "wharf ctl: no way to read", path, "(use --admin)")
			return exitFailure
		}
		addr, err = resolve(path)
		if err != nil {
			fmt.Fprintf(stderr, "wharf ctl: %v\n", err)
			return exitFailure
		}
		if addr == "" {
			fmt.Fprintf(stderr, "wharf ctl: the admin API is off in %s (set [admin] listen)\n", path)
			return exitFailure
		}
	}
	c, err := newClient(addr)
	if err != nil {
		fmt.Fprintf(stderr, "wharf ctl: %v\n", err)
		if o.admin != "" {
			return exitUsage
		}
		return exitFailure
	}
	if !c.unix {
		c.user = o.user
		if c.user == "" {
			c.user = DefaultUser
		}
		pass, ok := os.LookupEnv(PasswordEnv)
		if !ok {
			pass, err = promptPassword(stdin, stderr, c.user)
			if err != nil {
				fmt.Fprintf(stderr, "wharf ctl: %v\n", err)
				return exitFailure
			}
		}
		c.pass = pass
	}
	if err := cmd.run(c, o); err != nil {
		if !errors.Is(err, errReported) {
			fmt.Fprintf(stderr, "wharf ctl: %v\n", err)
		}
		return exitFailure
	}
	return exitOK
}

// parseArgs reads flags (before or after the command, --name value or
// --name=value, one dash or two) and the command with its arguments.
func parseArgs(args []string) (*options, error) {
	o := &options{}
	takes := map[string]*string{"config": &o.config, "admin": &o.admin, "user": &o.user, "for": &o.banFor, "note": &o.note}
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			o.args = append(o.args, args[i+1:]...)
			break
		}
		if len(a) < 2 || a[0] != '-' {
			o.args = append(o.args, a)
			continue
		}
		name, val, hasVal := strings.Cut(strings.TrimPrefix(strings.TrimPrefix(a, "-"), "-"), "=")
		switch name {
		case "h", "help":
			o.help = true
			continue
		case "json":
			if hasVal {
				return nil, usageError{"--json takes no value"}
			}
			o.json = true
			continue
		}
		p, ok := takes[name]
		if !ok {
			return nil, usageError{fmt.Sprintf("unknown option %s", a)}
		}
		if !hasVal {
			if i+1 >= len(args) {
				return nil, usageError{fmt.Sprintf("%s needs a value", a)}
			}
			i++
			val = args[i]
		}
		*p = val
		switch name {
		case "for":
			o.banForSet = true
		case "note":
			o.noteSet = true
		}
	}
	if o.help {
		return o, nil
	}
	if len(o.args) == 0 {
		return nil, usageError{"no command"}
	}
	if o.args[0] == "help" {
		return o, nil
	}
	cmd, ok := commands[o.args[0]]
	if !ok {
		return nil, usageError{fmt.Sprintf("unknown command %q", o.args[0])}
	}
	if got := len(o.args) - 1; got != cmd.args {
		if cmd.args == 0 {
			return nil, usageError{fmt.Sprintf("%s takes no argument", o.args[0])}
		}
		return nil, usageError{fmt.Sprintf("%s needs %d argument, got %d", o.args[0], cmd.args, got)}
	}
	if (o.banForSet || o.noteSet) && o.args[0] != "ban" {
		return nil, usageError{"--for and --note go with ban"}
	}
	if o.config != "" && o.admin != "" {
		return nil, usageError{"--config and --admin exclude each other"}
	}
	return o, nil
}
