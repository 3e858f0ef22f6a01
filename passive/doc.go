// Package passive owns wharf's passive-mode data ports and the address
// announced to clients in 227 replies.
//
// [PortRange] is the value type behind the "ports" and "announced_ports"
// settings; [Ports] hands out free passive ports to ftpserverlib (it is its
// PasvPortGetter) and counts the ones in use; [Announcer] decides, per client,
// which IPv4 address PASV announces: an override, the local address for local
// networks, or an external address (a literal, a DNS name or the body of an
// http(s) URL, refreshed in the background).
//
// The package never sees TOML and never imports the server.
package passive
