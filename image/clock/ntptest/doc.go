// Package ntptest is an NTP server for tests (RFC 5905, server mode): it answers each
// client request on a UDP socket with a stratum-2 reply carrying the time of its Now.
//
// Guarantees: a reply echoes the request's transmit timestamp as its origin, so a client
// that checks it (github.com/beevik/ntp does) accepts it; requests that are not NTP
// client packets get no answer. Count reports how many requests were answered.
package ntptest
