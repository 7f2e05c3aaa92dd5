// Package mqttconn builds every paho MQTT session of the till and HQ: Connect makes the
// client of one session (a till's uplink, HQ's consumer, the fleet view, a brief command
// or catalog exchange), over a connection with buffered reads and coalesced writes and a
// paho store that keeps nothing; Wait is the one wait on a paho token.
//
// paho reads every packet's fixed header straight from the socket, one byte at a time,
// and writes every packet with a system call of its own, so each PUBLISH or PUBACK costs
// four or five. Behind this connection a burst of packets costs one read and one write.
// This is most of what a till pays per acknowledged entry while it drains a backlog, and
// what HQ pays per received entry.
//
// What it guarantees:
//
//   - Open is a paho OpenConnectionFunc: set it with ClientOptions.SetCustomOpenConnectionFn.
//   - It dials tcp://, mqtt:// and unix:// brokers, and ssl://, tls://, mqtts://,
//     mqtt+ssl:// and tcps:// brokers with the client's TLS configuration (the handshake
//     completes inside Open), within the client's connect timeout. Any other scheme, and
//     websockets in particular, is refused with ErrScheme.
//   - Writes keep their order. An idle connection sends a write at once; writes made while
//     one is in the kernel go out together in the next. A broker that stops reading fails
//     the writer within the client's write timeout, and the connection is closed then.
//   - On Linux the socket acknowledges what it receives at once (TCP_QUICKACK after every
//     read), so a broker with Nagle's algorithm on (Mosquitto's default) never holds a
//     packet for this client behind a delayed acknowledgement: 40 ms per round trip.
//   - Close sends what is queued and waits for the broker to close its side (at most a
//     second), so a clean DISCONNECT is never lost to a reset and no last will follows it.
//   - Connect gives every session the same options: a clean session, no automatic
//     reconnect (a new client per session), this connection, and DiscardStore, which is
//     right only for such clients: paho's in-memory store would only copy every message
//     in flight, since the outbox is elsewhere (the ledger). The session's Kind settles
//     the rest: a Till session must have a will, a Consumer session acknowledges a
//     message only when the caller does (after its commit), a Consumer's and a Watch's
//     handlers run one at a time in the broker's order (a slow one holds the next message
//     in the socket, not in a goroutine of its own), and every session but a Brief one
//     must have a lost handler. A Consumer session may be Persistent (the
//     broker keeps its subscription and the messages it has not acknowledged across a
//     lost connection, and delivers them to the next session of the same client id, to
//     its OnMessage handler, before anything is subscribed again). A session that lacks
//     what its kind needs is refused with ErrSession before anything is dialled.
//   - A session with a PingTimeout longer than its Timeout (HQ's consumer) is lost only
//     when nothing at all arrives from the broker for KeepAlive plus PingTimeout, not when
//     a ping's answer is late behind everything sent before it; its writes may wait as
//     long for the broker to read them.
//   - Connect returns a connected client or an error naming the broker, within the
//     session's timeout. Wait bounds every token wait and wraps ErrTimeout, paho's
//     error, or ErrSubscribeRefused for a subscription the broker answered with failure
//     (which paho itself does not count as an error), with the operation. DefaultTimeout and DefaultKeepAlive are the defaults of
//     every session and wait.
//   - Proxies from the environment are not used: a till talks to its broker directly.
package mqttconn
