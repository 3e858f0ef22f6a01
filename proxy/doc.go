// Package proxy reads the PROXY protocol header (v1 and v2) that a TCP load
// balancer such as HAProxy sends ahead of a client's bytes, so that wharf sees
// the client's address instead of the balancer's.
//
// [Wrap] is the first link of the listener chain, directly over the TCP
// listener: PROXY → admission (IP filters, bans, limits) → implicit TLS. It
// comes before admission because admission must judge the client, and only
// the header names the client.
//
// # The contract of an accepted connection
//
// Over a *net.TCPListener every connection [Listener.Accept] returns is a
// [Stream]:
//
//   - From an address outside [Options].Trusted it is the *net.TCPConn itself,
//     untouched: a direct client. Not a byte is read from it, so a PROXY line
//     it sends reaches the FTP server as a command (which answers 500).
//   - From a trusted address it is a *[Conn], returned only once its header
//     is complete. RemoteAddr is the header's source address (the client);
//     [Conn.Balancer] is the real peer (the balancer); LocalAddr is the real
//     local address of the socket, not the header's destination, which
//     [Conn.Destination] gives (see below).
//   - A health check of the balancer is a connection of its own: a v2 LOCAL
//     header (HAProxy's checks with send-proxy-v2), a v1 "PROXY UNKNOWN"
//     line, or a header naming the check connection itself (HAProxy's checks
//     with send-proxy). RemoteAddr is the balancer's address,
//     [Conn.HealthCheck] is true, and the connection is served like any
//     other, so a check that expects the 220 greeting (tcp-check expect
//     string 220) sees it.
//
// A *Conn embeds the *net.TCPConn, so socket options (SetLinger, CloseWrite,
// SetNoDelay, SyscallConn().Control, ...) and the kernel's zero-copy paths
// are those of the TCP connection: ReadFrom (sendfile, splice into the
// socket) goes straight to it, and WriteTo and Read first hand out the few
// bytes that arrived with the header (at most a couple of hundred, usually
// none: an FTP client waits for the greeting) and then read the socket
// directly. *os.File.ReadFrom splices from any reader that is a
// syscall.Conn; until those bytes are read, [Conn.SyscallConn] withholds
// what splice needs, so an upload copied that way goes through Read first
// and splices from then on. Reading the embedded TCPConn itself (or a raw
// Read of its SyscallConn) skips them: read through the *Conn, or check
// [Conn.Buffered] first; once it is 0 it stays 0.
//
// Code further down the chain that needs more than a net.Conn asserts
// [Stream], never *net.TCPConn, and finds the balancer of any connection,
// wrapped or not, with [From] or [Balancer] (wrappers expose the connection
// under them with a NetConn method, as crypto/tls does).
//
// # Local and destination address
//
// LocalAddr stays the real local address because that is the address
// wharf's own settings are written against: the passive announcer gives a
// client in local_networks the listener's own address, and `wharf check
// --client` prints that same address. Announcing the header's destination
// (the balancer's frontend) instead would send a local client's data
// connection through the balancer, which only reaches the right node if the
// balancer is configured per node; a public client is announced
// external_address (the balancer's public address) either way.
//
// # Timing and refusals
//
// Headers are read off the accept loop, one goroutine per connection still
// waiting for its header (at most [Options].MaxPending of them), and Accept
// returns connections in the order their headers complete: a silent
// connection never delays the next one. A trusted connection whose header is
// not complete within [Options].Timeout, or is malformed, or names something
// other than a TCP client, is closed without a reply, logged at warn and
// reported to [Options].OnRefused with reason [ReasonRefused]. One that the
// peer closes before sending a byte (a plain TCP health check) is closed
// quietly. Close stops accepting, closes the connections still waiting for
// their header and returns once every goroutine of the listener has ended.
package proxy
