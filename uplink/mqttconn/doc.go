// Package mqttconn opens the network connection of a paho MQTT client with its reads
// buffered.
//
// paho reads every packet's fixed header straight from the socket, one byte at a time,
// so each PUBLISH or PUBACK received costs three or four read system calls. Behind the
// bufio.Reader that Open puts in front of the socket, a burst of packets costs one. This
// is most of what a till pays per acknowledged entry while it drains a backlog, and what
// HQ pays per received entry.
//
// What it guarantees:
//
//   - Open is a paho OpenConnectionFunc: set it with ClientOptions.SetCustomOpenConnectionFn.
//   - It dials tcp://, mqtt:// and unix:// brokers, and ssl://, tls://, mqtts://,
//     mqtt+ssl:// and tcps:// brokers with the client's TLS configuration (the handshake
//     completes inside Open), within the client's connect timeout. Any other scheme, and
//     websockets in particular, is refused with ErrScheme.
//   - Writes and deadlines go to the socket unchanged; only reads are buffered.
//   - Proxies from the environment are not used: a till talks to its broker directly.
package mqttconn
