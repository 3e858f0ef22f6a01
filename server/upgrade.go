package server

import (
	"context"
	"log/slog"
	"net"
	"time"
)

// ListenFunc returns a listener for network ("tcp" or "unix") and addr: the one
// handed over by the process this one replaces (a gapless upgrade), or a new
// one made by create. Options.Listen is one; nil makes every listener anew.
type ListenFunc func(network, addr string, create func(network, addr string) (net.Listener, error)) (net.Listener, error)

// listen returns the listener for network and addr from Options.Listen, or
// one made by create.
func (s *Server) listen(network, addr string, create func(network, addr string) (net.Listener, error)) (net.Listener, error) {
	if s.opts.Listen == nil {
		return create(network, addr)
	}
	return s.opts.Listen(network, addr, create)
}

// listenControl returns a control listener on addr. One handed over keeps the
// keep-alive settings a new one gets (the settings of a listener do not travel
// with its socket).
func (s *Server) listenControl(addr string) (net.Listener, error) {
	made := false
	ln, err := s.listen("tcp", addr, func(_, addr string) (net.Listener, error) {
		made = true
		return listen(addr)
	})
	if err != nil || made {
		return ln, err
	}
	if tl, ok := ln.(*net.TCPListener); ok {
		return keepAliveListener{tl}, nil
	}
	return ln, nil
}

// controlKeepAlive is the keep-alive of control connections: a peer gone
// without a word is noticed in about a minute and a half.
var controlKeepAlive = net.KeepAliveConfig{Enable: true, Idle: 30 * time.Second, Interval: 15 * time.Second, Count: 4}

// keepAliveListener sets controlKeepAlive on each connection it accepts, which
// stays a *net.TCPConn.
type keepAliveListener struct{ *net.TCPListener }

func (l keepAliveListener) Accept() (net.Conn, error) {
	c, err := l.AcceptTCP()
	if err != nil {
		return nil, err
	}
	_ = c.SetKeepAliveConfig(controlKeepAlive)
	return c, nil
}

// Logger is the server's logger, in the format the file asks for.
func (s *Server) Logger() *slog.Logger { return s.log }

// Handover ends this process's part once the process that replaces it is
// ready: the control, admin and metrics listeners stop accepting at once (the
// sockets stay open in the new process, so no connection attempt is
// refused), then Shutdown lets transfers finish until ctx is done and closes
// the remaining sessions with 421.
func (s *Server) Handover(ctx context.Context) (waited, cut int) {
	s.stopListeners()
	s.log.Info("upgrade: stopped accepting; finishing the sessions and transfers in progress", "transfers", s.reg.transfers.Load())
	c, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	if s.adminSrv != nil {
		_ = s.adminSrv.Shutdown(c)
	}
	if s.metricsSrv != nil {
		_ = s.metricsSrv.Close(c)
	}
	return s.Shutdown(ctx)
}
