package admin

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
)

// socketMode is the admin socket's file mode: its owner and group may use
// the API, nobody else.
const socketMode fs.FileMode = 0o660

// Listen opens the admin listener for an [admin] listen address:
// "unix:/path" (a unix socket, mode 0660; a stale socket file left by a
// process that is gone is replaced; closing the listener leaves the file, so
// that a process it was handed to keeps the path) or "host:port" (TCP; HTTPS when tlsConfig
// is not nil).
func Listen(addr string, tlsConfig *tls.Config) (net.Listener, error) {
	return ListenWith(nil, addr, tlsConfig)
}

// ListenFunc returns a listener for network and address: one the process was
// handed (an upgrade passes its listening sockets on), or one made by create.
type ListenFunc func(network, addr string, create func(network, addr string) (net.Listener, error)) (net.Listener, error)

// ListenWith is Listen, with the socket taken from listen (nil: always a new
// one). A unix socket handed over keeps its path and mode; TLS is layered on
// whichever TCP listener listen returns.
func ListenWith(listen ListenFunc, addr string, tlsConfig *tls.Config) (net.Listener, error) {
	if listen == nil {
		listen = func(network, addr string, create func(network, addr string) (net.Listener, error)) (net.Listener, error) {
			return create(network, addr)
		}
	}
	if path, ok := strings.CutPrefix(addr, "unix:"); ok {
		if tlsConfig != nil {
			return nil, errors.New("admin: TLS applies to a TCP listener, not to a unix socket")
		}
		if !filepath.IsAbs(path) {
			return nil, fmt.Errorf("admin: unix socket %q needs an absolute path", path)
		}
		return listen("unix", path, func(_, path string) (net.Listener, error) { return listenUnix(path) })
	}
	l, err := listen("tcp", addr, net.Listen)
	if err != nil {
		return nil, err
	}
	if tlsConfig != nil {
		c := tlsConfig.Clone()
		c.NextProtos = []string{"http/1.1"}
		l = tls.NewListener(l, c)
	}
	return l, nil
}

// listenUnix creates a unix socket at path with socketMode.
func listenUnix(path string) (net.Listener, error) {
	if !filepath.IsAbs(path) {
		return nil, fmt.Errorf("admin: unix socket %q needs an absolute path", path)
	}
	if err := removeStaleSocket(path); err != nil {
		return nil, err
	}
	// Bound under a temporary name, given its mode, then renamed: the path
	// never names a socket with a wider mode.
	tmp := filepath.Join(filepath.Dir(path), fmt.Sprintf(".%s.%d.tmp", filepath.Base(path), os.Getpid()))
	_ = os.Remove(tmp)
	ul, err := net.ListenUnix("unix", &net.UnixAddr{Name: tmp, Net: "unix"})
	if err != nil {
		return nil, err
	}
	ul.SetUnlinkOnClose(false)
	if err := os.Chmod(tmp, socketMode); err != nil {
		ul.Close()
		os.Remove(tmp)
		return nil, err
	}
	if err := os.Rename(tmp, path); err != nil {
		ul.Close()
		os.Remove(tmp)
		return nil, err
	}
	return ul, nil
}

// removeStaleSocket removes a socket file at path that no process answers on;
// a live socket or any other file is an error.
func removeStaleSocket(path string) error {
	fi, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if fi.Mode().Type() != fs.ModeSocket {
		return fmt.Errorf("admin: %s exists and is not a socket", path)
	}
	if c, err := net.Dial("unix", path); err == nil {
		c.Close()
		return fmt.Errorf("admin: %s is in use by another process", path)
	}
	return os.Remove(path)
}
