package passive

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"strings"
	"time"
)

// Start looks the external address up once (a DNS name or a URL), waiting
// no longer than a few seconds, then refreshes it in the background every
// Refresh until ctx is done. A failed lookup is logged and never fatal: the
// previous value (or the local address) is announced meanwhile. Calling Start
// while a refresh loop runs does nothing.
func (a *Announcer) Start(ctx context.Context) {
	a.mu.Lock()
	if a.running {
		a.mu.Unlock()
		return
	}
	a.running = true
	a.mu.Unlock()

	firstDone := make(chan struct{})
	a.wg.Add(1)
	go a.run(ctx, firstDone)

	timer := time.NewTimer(a.startWait)
	defer timer.Stop()
	select {
	case <-firstDone:
	case <-ctx.Done():
	case <-timer.C:
		st := a.state.Load()
		st.cfg.Logger.Warn("external address not known yet, starting anyway",
			"source", st.describeSource(), "waited", a.startWait)
	}
}

// run is the refresh loop: look up, wait for Refresh, an Update or ctx.
func (a *Announcer) run(ctx context.Context, firstDone chan struct{}) {
	defer a.wg.Done()
	defer func() {
		a.mu.Lock()
		a.running = false
		a.mu.Unlock()
	}()

	for {
		st := a.state.Load()
		if st.src.dynamic() {
			a.refresh(ctx, st)
		}
		if firstDone != nil {
			close(firstDone)
			firstDone = nil
		}

		if !a.wait(ctx, st) {
			return
		}
	}
}

// wait waits for the next refresh of st (none when its source is static),
// an Update, or ctx. It returns false when ctx is done.
func (a *Announcer) wait(ctx context.Context, st *announcerState) bool {
	var tick <-chan time.Time
	if st.src.dynamic() {
		timer := time.NewTimer(st.cfg.Refresh)
		defer timer.Stop()
		tick = timer.C
	}
	select {
	case <-ctx.Done():
		return false
	case <-a.kick:
	case <-tick:
	}
	return true
}

// refresh looks st's source up once and records a good result.
func (a *Announcer) refresh(parent context.Context, st *announcerState) {
	ctx, cancel := context.WithTimeout(parent, defaultHTTPTimeout)
	defer cancel()

	var (
		addr string
		err  error
	)
	switch st.src.kind {
	case sourceDNS:
		addr, err = a.resolve(ctx, st)
	case sourceURL:
		addr, err = fetchAddress(ctx, st.cfg.HTTPClient, st.src.value)
	default:
		return
	}
	if err != nil {
		if parent.Err() != nil {
			return // shutting down
		}
		st.cfg.Logger.Warn("external address lookup failed",
			"source", st.describeSource(), "err", err, "keeping", st.external)
		return
	}
	a.setExternal(st.src, addr)
}

// setExternal records addr as the external address of src, unless the
// configuration moved to another source meanwhile.
func (a *Announcer) setExternal(src source, addr string) {
	a.mu.Lock()
	cur := a.state.Load()
	if cur.src != src || cur.external == addr {
		a.mu.Unlock()
		return
	}
	next := *cur
	next.external = addr
	a.state.Store(&next)
	a.mu.Unlock()
	cur.cfg.Logger.Info("external address updated",
		"source", cur.describeSource(), "old", cur.external, "new", addr)
}

// resolve returns the first IPv4 address of the DNS name of st.
func (a *Announcer) resolve(ctx context.Context, st *announcerState) (string, error) {
	lookup := a.lookupIP
	if lookup == nil {
		lookup = func(ctx context.Context, host string) ([]netip.Addr, error) {
			return st.cfg.Resolver.LookupNetIP(ctx, "ip4", host)
		}
	}
	addrs, err := lookup(ctx, st.src.value)
	if err != nil {
		return "", err
	}
	for _, addr := range addrs {
		if addr = addr.Unmap(); addr.Is4() {
			return addr.String(), nil
		}
	}
	return "", fmt.Errorf("%q has no IPv4 address", st.src.value)
}

// fetchAddress GETs rawURL and returns its body, trimmed, when it is an IPv4
// address.
func fetchAddress(ctx context.Context, client *http.Client, rawURL string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return "", err
	}
	resp, err := client.Do(req)
	if err != nil {
		return "", err
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("status %s", resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return "", err
	}
	text := strings.TrimSpace(string(body))
	addr, err := netip.ParseAddr(text)
	if err != nil || !addr.Is4() {
		return "", fmt.Errorf("body %.64q is not an IPv4 address", text)
	}
	return addr.String(), nil
}
