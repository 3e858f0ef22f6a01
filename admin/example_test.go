package admin_test

import (
	"context"
	"log/slog"
	"net/netip"

	"github.com/wharf-ftp/wharf/admin"
	"github.com/wharf-ftp/wharf/admin/admintest"
)

// The wiring server/ does: a listener for [admin] listen, a Server with the
// server's Backend, the account check and autoban, Serve in a goroutine and
// Shutdown on stop.
func ExampleNew() {
	var backend admin.Backend = admintest.New() // server/ passes its own implementation
	addr := "127.0.0.1:0"                       // [admin] listen; "unix:/run/wharf/admin.sock" for a socket
	l, err := admin.Listen(addr, nil)           // a *tls.Config (the [tls] certificate) when [admin] tls = true
	if err != nil {
		panic(err)
	}
	srv := admin.New(admin.Options{
		Backend: backend,
		Users: func(user, pass string) (string, bool) {
			// look up [admin.users.NAME]; verify the hash with the same cost
			// whether the user exists or not
			return "", false
		},
		Unix:           false, // true for a unix: address
		TLS:            false, // [admin] tls
		OnLoginFailure: func(remote netip.Addr) { /* autoban.Failure(remote) */ },
		Logger:         slog.Default().With("component", "admin"),
	})
	go srv.Serve(l)
	defer srv.Shutdown(context.Background())
}
