// Command wharf is an FTP and FTPS server.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	neturl "net/url"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"github.com/cloudflare/tableflip"

	"github.com/wharf-ftp/wharf/admin/ctl"
	"github.com/wharf-ftp/wharf/auth"
	"github.com/wharf-ftp/wharf/internal/term"
	"github.com/wharf-ftp/wharf/server"
	"github.com/wharf-ftp/wharf/server/config"
)

// Exit codes.
const (
	exitOK       = 0
	exitFailure  = 1 // bad configuration or runtime failure
	exitBadUsage = 2
)

// defaultConfigPath is the file `wharf health` and `wharf ctl` read when given none.
const defaultConfigPath = "/etc/wharf/wharf.toml"

// version is set at build time with -ldflags "-X main.version=..."; when it is
// not, versionString falls back on the module's build information.
var version = ""

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// command is one subcommand: its synopsis line and what it does.
type command struct {
	name, synopsis, about string
}

var commands = []command{
	{"serve", "wharf [serve] [--config FILE] [--pid-file FILE]",
		"Run the server in the foreground. Without --config it serves the embedded default\n" +
			"(127.0.0.1:2121, folder ./wharf-data, a random password printed at start)."},
	{"check", "wharf check [--config] FILE [--client ADDR] [--skip-path-checks]",
		"Validate a configuration file without serving: exit 0 and a summary, or exit 1\n" +
			"and every problem as FILE:LINE: message."},
	{"hash", "wharf hash",
		"Read a password on stdin (one line, no echo on a terminal) and print its argon2id\n" +
			"hash for a user's password key."},
	{"version", "wharf version", "Print the version (also: wharf --version)."},
	{"health", "wharf health [--url URL]",
		"Exit 0 when /healthz answers 200 (for container health checks). Default URL: the\n" +
			"[metrics] listen address of " + defaultConfigPath + "."},
	{"ctl", "wharf ctl [--config FILE | --admin ADDR] [--user NAME] [--json] COMMAND",
		"Talk to a running server's admin API. COMMAND: status, sessions, kick ID, bans,\n" +
			"ban ADDRESS [--for DURATION] [--note TEXT], unban ADDRESS, reload, upgrade."},
	{"help", "wharf help [COMMAND]", "Print this usage, or a command's."},
}

func lookup(name string) (command, bool) {
	for _, c := range commands {
		if c.name == name {
			return c, true
		}
	}
	return command{}, false
}

// printUsage prints the usage of every command.
func printUsage(w io.Writer) {
	fmt.Fprintln(w, "usage:")
	for _, c := range commands {
		fmt.Fprintf(w, "  %s\n", c.synopsis)
	}
	fmt.Fprintln(w, "\nRun 'wharf COMMAND --help' for a command's flags.")
	fmt.Fprintln(w, "Exit codes: 0 ok, 1 bad configuration or runtime failure, 2 bad usage.")
}

// printCommandUsage prints one command's usage and, when fl is not nil, its flags.
func printCommandUsage(w io.Writer, c command, fl *flag.FlagSet) {
	fmt.Fprintf(w, "usage: %s\n\n%s\n", c.synopsis, c.about)
	if fl == nil {
		return
	}
	first := true
	fl.VisitAll(func(f *flag.Flag) {
		if first {
			fmt.Fprintln(w, "\nflags:")
			first = false
		}
		name, text := flag.UnquoteUsage(f)
		switch name {
		case "":
			fmt.Fprintf(w, "  --%s\n", f.Name)
		case "string":
			fmt.Fprintf(w, "  --%s %s\n", f.Name, strings.ToUpper(f.Name))
		default:
			fmt.Fprintf(w, "  --%s %s\n", f.Name, name)
		}
		fmt.Fprintf(w, "        %s\n", text)
	})
}

// isHelp reports whether arg asks for help.
func isHelp(arg string) bool {
	switch arg {
	case "-h", "-help", "--help":
		return true
	}
	return false
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		switch {
		case isHelp(args[0]):
			printUsage(stdout)
			return exitOK
		case args[0] == "--version" || args[0] == "-version":
			args = append([]string{"version"}, args[1:]...)
		}
	}
	cmd := "serve"
	if len(args) > 0 && (len(args[0]) == 0 || args[0][0] != '-') {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "serve":
		return serve(args, stdout, stderr)
	case "check":
		return check(args, stdout, stderr)
	case "hash":
		return hash(args, stdin, stdout, stderr)
	case "version":
		return versionCmd(args, stdout, stderr)
	case "health":
		return health(args, stdout, stderr)
	case "ctl":
		return ctlCmd(args, stdin, stdout, stderr)
	case "help":
		return help(args, stdout, stderr)
	}
	fmt.Fprintf(stderr, "wharf: unknown command %q\n", cmd)
	printUsage(stderr)
	return exitBadUsage
}

func help(args []string, stdout, stderr io.Writer) int {
	switch {
	case len(args) == 0 || isHelp(args[0]):
		printUsage(stdout)
		return exitOK
	case len(args) > 1:
		fmt.Fprintln(stderr, "wharf help: one command at most")
		return exitBadUsage
	}
	c, ok := lookup(args[0])
	if !ok {
		fmt.Fprintf(stderr, "wharf help: unknown command %q\n", args[0])
		printUsage(stderr)
		return exitBadUsage
	}
	// The flags are those the command itself declares.
	return run([]string{c.name, "--help"}, strings.NewReader(""), stdout, stderr)
}

// cli parses one command's arguments: flags, and up to maxArgs positional
// arguments anywhere among them.
type cli struct {
	cmd    command
	fl     *flag.FlagSet
	stdout io.Writer
	stderr io.Writer
}

func newCLI(name string, stdout, stderr io.Writer) *cli {
	c, _ := lookup(name)
	fl := flag.NewFlagSet("wharf "+name, flag.ContinueOnError)
	fl.SetOutput(io.Discard) // parse prints problems and usage itself
	fl.Usage = func() {}
	return &cli{cmd: c, fl: fl, stdout: stdout, stderr: stderr}
}

// parse parses args and returns the positional arguments, or an exit code:
// exitOK after --help, exitBadUsage after a bad flag or too many arguments.
func (c *cli) parse(args []string, maxArgs int) ([]string, int, bool) {
	var pos []string
	for {
		err := c.fl.Parse(args)
		if errors.Is(err, flag.ErrHelp) {
			printCommandUsage(c.stdout, c.cmd, c.fl)
			return nil, exitOK, false
		}
		if err != nil {
			fmt.Fprintf(c.stderr, "%s: %v\n", c.fl.Name(), err)
			printCommandUsage(c.stderr, c.cmd, c.fl)
			return nil, exitBadUsage, false
		}
		args = c.fl.Args()
		if len(args) == 0 {
			break
		}
		if args[0] == "--" {
			pos = append(pos, args[1:]...)
			break
		}
		pos, args = append(pos, args[0]), args[1:]
	}
	if len(pos) > maxArgs {
		extra := pos[maxArgs:]
		what := "argument"
		if len(extra) > 1 {
			what = "arguments"
		}
		fmt.Fprintf(c.stderr, "%s: unexpected %s %q\n", c.fl.Name(), what, strings.Join(extra, " "))
		printCommandUsage(c.stderr, c.cmd, nil)
		return nil, exitBadUsage, false
	}
	return pos, exitOK, true
}

// usageError prints a usage problem and the command's usage on stderr.
func (c *cli) usageError(format string, args ...any) int {
	fmt.Fprintf(c.stderr, "%s: %s\n", c.fl.Name(), fmt.Sprintf(format, args...))
	printCommandUsage(c.stderr, c.cmd, nil)
	return exitBadUsage
}

// printConfigErrors prints every configuration problem, one FILE:LINE: message per line.
func printConfigErrors(w io.Writer, err error) {
	var errs config.Errors
	if errors.As(err, &errs) {
		for _, e := range errs {
			fmt.Fprintln(w, e.Error())
		}
		return
	}
	fmt.Fprintln(w, "wharf:", err)
}

func serve(args []string, stdout, stderr io.Writer) int {
	c := newCLI("serve", stdout, stderr)
	configPath := c.fl.String("config", "", "the configuration `FILE` (default: the embedded default)")
	pidFile := c.fl.String("pid-file", "", "write the process id to `FILE` once serving, and again after each upgrade (for systemd's PIDFile=)")
	if _, code, ok := c.parse(args, 0); !ok {
		return code
	}
	// Signals are taken in one goroutine, so reloads never overlap; they are
	// caught from the start, so an early SIGUSR2 does not end the process.
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGHUP, syscall.SIGUSR2, syscall.SIGTERM, syscall.SIGINT)
	defer signal.Stop(sigs)

	upg, err := tableflip.New(tableflip.Options{PIDFile: *pidFile})
	if err != nil {
		fmt.Fprintln(stderr, "wharf:", err)
		return exitFailure
	}
	// A process started by an upgrade reports why it could not start to the
	// old one, which goes on serving and logs it.
	report := &reportWriter{stderr: stderr}
	if f, err := upg.File(reportName); err == nil && f != nil {
		report.pipe = f
	}
	defer report.close()
	up := newUpgrader(upg)

	srv, err := server.New(server.Options{ConfigPath: *configPath, Stdout: stdout, Stderr: stderr, Version: versionString(),
		Upgrade: up.start, Listen: inherit(upg)})
	if err != nil {
		printConfigErrors(report, err)
		return exitFailure
	}
	if err := srv.Start(); err != nil {
		fmt.Fprintln(report, "wharf:", err)
		return exitFailure
	}
	if err := upg.Ready(); err != nil {
		fmt.Fprintln(report, "wharf:", err)
		return exitFailure
	}
	report.close()
	log := srv.Logger()
	if upg.HasParent() {
		log.Info("upgrade: serving in place of the old process", "pid", os.Getpid(), "old_pid", os.Getppid())
	}
	srv.LogCertificate()
	for {
		select {
		case sig := <-sigs:
			switch sig {
			case syscall.SIGHUP:
				_ = srv.Reload()
			case syscall.SIGUSR2:
				log.Info("upgrade requested", "signal", "SIGUSR2")
				if err := up.start(); err != nil {
					log.Warn("upgrade not started", "err", err)
				}
			default:
				// No upgrade may start or finish from here on.
				upg.Stop()
				ctx, cancel := context.WithTimeout(context.Background(), srv.ShutdownGrace())
				srv.Shutdown(ctx)
				cancel()
				stopped(upg, *pidFile)
				return exitOK
			}
		case res := <-up.results:
			if res.err != nil {
				for _, l := range res.report {
					log.Error("upgrade failed: " + l)
				}
				log.Error("upgrade failed: this process goes on serving", "err", res.err)
				up.failed()
				continue
			}
			log.Info("upgrade: the new process is ready; this one stops accepting and exits once its transfers are done")
			ctx, cancel := context.WithTimeout(context.Background(), srv.ShutdownGrace())
			srv.Handover(ctx)
			cancel()
			return exitOK
		}
	}
}

func check(args []string, stdout, stderr io.Writer) int {
	c := newCLI("check", stdout, stderr)
	configPath := c.fl.String("config", "", "the configuration `FILE` to validate (or give it as the argument)")
	client := c.fl.String("client", "", "also print the address PASV would announce to a client at `ADDR`")
	skip := c.fl.Bool("skip-path-checks", false, "do not check that folders, certificates, key files and log directories exist")
	pos, code, ok := c.parse(args, 1)
	if !ok {
		return code
	}
	switch {
	case len(pos) == 1 && *configPath != "":
		return c.usageError("give the file once: --config %s or %s, not both", *configPath, pos[0])
	case len(pos) == 1:
		*configPath = pos[0]
	case *configPath == "":
		return c.usageError("a configuration file is required (--config FILE)")
	}
	if *client != "" && !validClientAddr(*client) {
		return c.usageError("--client %q: want an IP address, with or without a port", *client)
	}
	err := server.Check(server.CheckOptions{ConfigPath: *configPath, Client: *client, SkipPathChecks: *skip, Warnings: stderr}, stdout)
	if err != nil {
		printConfigErrors(stderr, err)
		return exitFailure
	}
	return exitOK
}

// validClientAddr reports whether s is an IP address, with or without a port.
func validClientAddr(s string) bool {
	if _, err := netip.ParseAddr(s); err == nil {
		return true
	}
	_, err := netip.ParseAddrPort(s)
	return err == nil
}

func versionCmd(args []string, stdout, stderr io.Writer) int {
	c := newCLI("version", stdout, stderr)
	if _, code, ok := c.parse(args, 0); !ok {
		return code
	}
	fmt.Fprintln(stdout, "wharf", versionString())
	return exitOK
}

// versionString is the version stamped by -ldflags, else the module version
// of `go install ...@vX`, else the VCS revision the binary was built from.
func versionString() string {
	if version != "" {
		return version
	}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	if v := bi.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	var rev, dirty string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				dirty = "-dirty"
			}
		}
	}
	if rev == "" {
		return "devel"
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	return "devel-" + rev + dirty
}

// ctlCmd runs `wharf ctl`, the admin API client; it reads the admin address
// from a configuration file with resolveAdmin.
func ctlCmd(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return ctl.Run(args, stdin, stdout, stderr, resolveAdmin)
}

func hash(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	c := newCLI("hash", stdout, stderr)
	if _, code, ok := c.parse(args, 0); !ok {
		return code
	}
	password, err := readPassword(stdin, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "wharf hash:", err)
		return exitFailure
	}
	if password == "" {
		fmt.Fprintln(stderr, "wharf hash: empty password")
		return exitFailure
	}
	h, err := auth.HashPassword(password)
	if err != nil {
		fmt.Fprintln(stderr, "wharf hash:", err)
		return exitFailure
	}
	fmt.Fprintln(stdout, h)
	return exitOK
}

// health asks the metrics listener's /healthz, for container health checks
// (the container image has no shell or curl).
func health(args []string, stdout, stderr io.Writer) int {
	c := newCLI("health", stdout, stderr)
	url := c.fl.String("url", "", "the health `URL` (default: /healthz on the [metrics] listen address of "+defaultConfigPath+")")
	if _, code, ok := c.parse(args, 0); !ok {
		return code
	}
	if *url == "" {
		u, err := healthURL(defaultConfigPath)
		if err != nil {
			fmt.Fprintln(stderr, "wharf health:", err)
			return exitFailure
		}
		*url = u
	}
	client := &http.Client{Timeout: 5 * time.Second}
	resp, err := client.Get(healthTarget(*url))
	if err != nil {
		fmt.Fprintln(stderr, "wharf health:", err)
		return exitFailure
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		fmt.Fprintln(stderr, "wharf health:", resp.Status)
		return exitFailure
	}
	fmt.Fprintln(stdout, "ok")
	return exitOK
}

// healthTarget completes a --url given as the metrics listener's address:
// "host:port" is asked over http, and a URL without a path asks /healthz.
func healthTarget(s string) string {
	if !strings.Contains(s, "://") {
		s = "http://" + s
	}
	u, err := neturl.Parse(s)
	if err != nil {
		return s // the request reports it
	}
	if u.Path == "" || u.Path == "/" {
		u.Path = "/healthz"
	}
	return u.String()
}

// readPassword reads one line; on a terminal it turns echo off while reading.
func readPassword(stdin io.Reader, stderr io.Writer) (string, error) {
	restore, _ := term.NoEcho(stdin, stderr, "password: ")
	defer restore()
	line, err := bufio.NewReader(stdin).ReadString('\n')
	if err != nil && !(errors.Is(err, io.EOF) && line != "") {
		if errors.Is(err, io.EOF) {
			return "", errors.New("no password on standard input")
		}
		return "", err
	}
	if n := len(line); n > 0 && line[n-1] == '\n' {
		line = line[:n-1]
		if n := len(line); n > 0 && line[n-1] == '\r' {
			line = line[:n-1]
		}
	}
	return line, nil
}

// healthURL is the /healthz URL of the metrics listener named in the file at path.
func healthURL(path string) (string, error) {
	e, err := config.ReadEndpoints(path)
	if err != nil {
		return "", err
	}
	u, err := e.HealthURL()
	if err != nil {
		return "", fmt.Errorf("%s: %w; give --url", path, err)
	}
	return u, nil
}

// resolveAdmin returns the admin API address named in the file at path (the
// default file when path is ""): "unix:PATH" or "http(s)://host:port", or ""
// when the file sets no [admin] listen.
func resolveAdmin(path string) (string, error) {
	if path == "" {
		path = defaultConfigPath
	}
	e, err := config.ReadEndpoints(path)
	if err != nil {
		return "", err
	}
	if e.AdminListen == "" {
		return "", nil
	}
	u, err := e.AdminURL()
	if err != nil {
		return "", fmt.Errorf("%s: %w", path, err)
	}
	return u, nil
}
