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
	"os"
	"os/signal"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/wharf-ftp/wharf/auth"
	"github.com/wharf-ftp/wharf/server"
	"github.com/wharf-ftp/wharf/server/config"
)

// Exit codes.
const (
	exitOK       = 0
	exitFailure  = 1 // bad configuration or runtime failure
	exitBadUsage = 2
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

const usage = `usage:
  wharf [serve] [--config FILE]                    run the server (no --config: embedded default)
  wharf check --config FILE [--client ADDR] [--skip-path-checks]
                                                   validate a configuration file
  wharf hash                                       read a password on stdin, print its hash
  wharf version                                    print the version
  wharf health [--url URL]                         exit 0 when /healthz answers 200 (container health checks)
`

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
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
		fmt.Fprintln(stdout, "wharf", version)
		return exitOK
	case "health":
		return health(args, stdout, stderr)
	case "help":
		fmt.Fprint(stdout, usage)
		return exitOK
	}
	fmt.Fprintf(stderr, "wharf: unknown command %q\n%s", cmd, usage)
	return exitBadUsage
}

func newFlags(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("wharf "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, usage) }
	return fs
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
	fl := newFlags("serve", stderr)
	configPath := fl.String("config", "", "configuration file (default: the embedded default)")
	if err := fl.Parse(args); err != nil || fl.NArg() > 0 {
		return exitBadUsage
	}
	srv, err := server.New(server.Options{ConfigPath: *configPath, Stdout: stdout, Stderr: stderr})
	if err != nil {
		printConfigErrors(stderr, err)
		return exitFailure
	}
	// Signals are taken in one goroutine, so reloads never overlap.
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGHUP, syscall.SIGTERM, syscall.SIGINT)
	defer signal.Stop(sigs)
	if err := srv.Start(); err != nil {
		fmt.Fprintln(stderr, "wharf:", err)
		return exitFailure
	}
	for sig := range sigs {
		switch sig {
		case syscall.SIGHUP:
			_ = srv.Reload()
		default:
			ctx, cancel := context.WithTimeout(context.Background(), srv.ShutdownGrace())
			srv.Shutdown(ctx)
			cancel()
			return exitOK
		}
	}
	return exitOK
}

func check(args []string, stdout, stderr io.Writer) int {
	fl := newFlags("check", stderr)
	configPath := fl.String("config", "", "configuration file to validate")
	client := fl.String("client", "", "print the address PASV would announce to this client address")
	skip := fl.Bool("skip-path-checks", false, "do not check that folders, certificates and log directories exist")
	if err := fl.Parse(args); err != nil || fl.NArg() > 0 || *configPath == "" {
		if *configPath == "" {
			fmt.Fprintln(stderr, "wharf check: --config FILE is required")
		}
		return exitBadUsage
	}
	err := server.Check(server.CheckOptions{ConfigPath: *configPath, Client: *client, SkipPathChecks: *skip, Warnings: stderr}, stdout)
	if err != nil {
		printConfigErrors(stderr, err)
		return exitFailure
	}
	return exitOK
}

func hash(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		fmt.Fprint(stderr, usage)
		return exitBadUsage
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
	fl := newFlags("health", stderr)
	url := fl.String("url", "http://127.0.0.1:9122/healthz", "health endpoint")
	if err := fl.Parse(args); err != nil || fl.NArg() > 0 {
		return exitBadUsage
	}
	client := &http.Client{Timeout: 5 * time.Second}
	resp, err := client.Get(*url)
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

// readPassword reads one line; on a terminal it turns echo off while reading.
func readPassword(stdin io.Reader, stderr io.Writer) (string, error) {
	if f, ok := stdin.(*os.File); ok {
		fd := int(f.Fd())
		if old, err := unix.IoctlGetTermios(fd, unix.TCGETS); err == nil {
			fmt.Fprint(stderr, "password: ")
			noEcho := *old
			noEcho.Lflag &^= unix.ECHO
			noEcho.Lflag |= unix.ICANON | unix.ISIG
			if err := unix.IoctlSetTermios(fd, unix.TCSETS, &noEcho); err == nil {
				defer func() {
					_ = unix.IoctlSetTermios(fd, unix.TCSETS, old)
					fmt.Fprintln(stderr)
				}()
			}
		}
	}
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
