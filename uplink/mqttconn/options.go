package mqttconn

import (
	"crypto/tls"
	"errors"
	"fmt"
	"math"
	"net"
	"net/url"
	"strings"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
)

// Defaults of every session of the till and HQ.
const (
	// DefaultTimeout bounds connecting, each ping, each socket write and each token wait
	// when the session or the caller gives none.
	DefaultTimeout = 10 * time.Second
	// DefaultKeepAlive is the MQTT keep-alive when the session gives none.
	DefaultKeepAlive = 30 * time.Second
	// connectGrace is how much longer Connect waits than the connect timeout, so that
	// paho's own error, which says more, comes first.
	connectGrace = time.Second
)

var (
	// ErrTimeout: the broker did not answer within the wait's timeout.
	ErrTimeout = errors.New("broker did not answer in time")
	// ErrSession: a session was described in a way Connect cannot work with.
	ErrSession = errors.New("invalid session")
	// ErrSubscribeRefused: the broker answered a subscription with failure (SUBACK 0x80):
	// a denial, or, on NATS, a subscription whose JetStream consumer it could not make in
	// time. Nothing will arrive on it; the session is to be ended and made again.
	ErrSubscribeRefused = errors.New("broker refused the subscription")
)

// Kind is what a session is for. It settles what differs between the clients of the till
// and HQ; everything else they have in common.
type Kind int

const (
	// Till is a till's uplink. It must have a will (the broker's word to the fleet that the
	// till vanished) and a lost handler.
	Till Kind = iota + 1
	// Consumer is HQ's consumer. Received messages are acknowledged (PUBACK) only when the
	// caller acks them, after its commit, so the broker's in-flight limit is its
	// backpressure. It must have a lost handler.
	Consumer
	// Watch is a long-lived observer (the fleet view). It must have a lost handler. Its
	// handlers, like a Consumer's, run one at a time in the broker's order: one that is slow
	// (a store under load) holds the next message in the socket, where a goroutine per
	// message would hold every message of a fleet's storm in memory. A handler of either
	// kind must not wait for one of its own session's tokens.
	Watch
	// Brief is one short exchange: a command and its result, a catalog, acks after an
	// import, a look at the fleet's retained statuses.
	Brief
)

func (k Kind) String() string {
	switch k {
	case Till:
		return "till"
	case Consumer:
		return "consumer"
	case Watch:
		return "watch"
	case Brief:
		return "brief"
	}
	return fmt.Sprintf("kind(%d)", int(k))
}

// Will is the message the broker publishes when a session ends without a DISCONNECT.
type Will struct {
	Topic    string
	Payload  []byte
	Retained bool
}

// Session describes one session of a client whose outbox is elsewhere (the till's
// ledger; for HQ, the tills' ledgers).
type Session struct {
	Kind Kind
	// Broker is the broker's URL, or several (a clustered broker's nodes), comma-separated:
	// the connect tries each in turn until one answers.
	Broker, ClientID   string
	Username, Password string
	TLS                *tls.Config   // nil: none
	KeepAlive          time.Duration // zero: DefaultKeepAlive
	// Timeout bounds connecting, each ping and each socket write. Zero: DefaultTimeout.
	Timeout time.Duration
	// PingTimeout, when longer than Timeout, makes the session one that a busy broker
	// serves slowly (HQ's consumer, whose packets a broker reading a whole fleet's sockets
	// in turn reads one per round): it is lost only when nothing at all has arrived from
	// the broker for KeepAlive plus PingTimeout, rather than when a ping's answer is late
	// (a ping waits behind every PUBACK sent before it, while the messages that keep
	// arriving show the broker alive), and a socket write may wait as long for the broker
	// to read. A session of a broker that vanished is still lost within that bound: after
	// KeepAlive of silence the session pings, and an answer is all it waits for.
	PingTimeout time.Duration
	// Will is published, QoS 1, by the broker when the session is lost. Required for Till.
	Will *Will
	// Persistent asks the broker to keep the session (MQTT's CleanSession false): its
	// subscriptions, and the QoS 1 messages for it that it has not acknowledged, are kept
	// while it is away and delivered when a session with the same ClientID connects
	// again. Only a Consumer session may be persistent: its client id must be stable, and
	// it must have OnMessage, since the broker delivers what it kept as soon as it
	// accepts the connection, before any subscription is made again.
	Persistent bool
	// OnMessage, for a Consumer, receives every message no subscription's own handler
	// takes, including those a persistent session's broker delivers right after the
	// connection is accepted. It runs like a Consumer's subscription handlers, in the
	// broker's order on paho's router.
	OnMessage mqtt.MessageHandler
	// OnLost is called once when an established session is lost. Required for every kind
	// but Brief.
	OnLost func(error)
}

func (s *Session) check() error {
	bad := func(why string) error { return fmt.Errorf("mqttconn: connect: %w: %s", ErrSession, why) }
	switch {
	case s.Kind < Till || s.Kind > Brief:
		return bad("no session kind")
	case s.Broker == "":
		return bad("no broker")
	case s.ClientID == "":
		return bad("no client id")
	case s.Kind == Till && s.Will == nil:
		return bad("a till's session needs a will")
	case s.Kind != Brief && s.OnLost == nil:
		return bad("a " + s.Kind.String() + " session needs a lost handler")
	case s.Persistent && s.Kind != Consumer:
		return bad("only a consumer's session may be persistent")
	case s.Persistent && s.OnMessage == nil:
		return bad("a persistent session needs a message handler for what the broker kept")
	case s.OnMessage != nil && s.Kind != Consumer:
		return bad("only a consumer's session takes messages outside its subscriptions")
	}
	return nil
}

// liveFor is how long a busy broker's session waits for anything to arrive before it
// is lost; zero for every other session, which paho's ping timeout bounds instead.
func (s *Session) liveFor(keepAlive time.Duration) time.Duration {
	if s.PingTimeout <= s.timeout() {
		return 0
	}
	return keepAlive + s.PingTimeout
}

func (s *Session) timeout() time.Duration {
	if s.Timeout > 0 {
		return s.Timeout
	}
	return DefaultTimeout
}

// clientOptions are paho's options for s: MQTT 3.1.1, a clean session unless s is a persistent
// Consumer's, no automatic reconnect or connect retry (the caller makes a new client for
// the next session), the connection Open makes, and DiscardStore, which is right because
// paho never resumes a session of its own: a persistent Consumer's broker keeps and
// resends what it sends the consumer, and the consumer's own publishes (acks) are made
// again by the consumer on every connect. Handlers run on goroutines of their own (order
// does not matter), except a Consumer's and a Watch's, which run in the broker's order on
// paho's router so that a handler that waits stops the reads.
func clientOptions(s Session) *mqtt.ClientOptions {
	keepAlive := s.KeepAlive
	if keepAlive <= 0 {
		keepAlive = DefaultKeepAlive
	}
	pingTimeout, writeTimeout := s.timeout(), s.timeout()
	open := Open
	if live := s.liveFor(keepAlive); live > 0 {
		// paho's own ping timeout would end the session behind a late answer: the
		// connection's reads bound the silence instead.
		pingTimeout, writeTimeout = time.Duration(math.MaxInt64), live
		open = func(uri *url.URL, o mqtt.ClientOptions) (net.Conn, error) { return openConn(uri, o, live) }
	}
	o := mqtt.NewClientOptions()
	// A list (a clustered broker's nodes, comma-separated) is tried in order at connect.
	for _, b := range strings.Split(s.Broker, ",") {
		if b = strings.TrimSpace(b); b != "" {
			o.AddBroker(b)
		}
	}
	o.SetClientID(s.ClientID).
		SetUsername(s.Username).
		SetPassword(s.Password).
		SetCleanSession(!s.Persistent).
		// MQTT 3.1.1 only: paho otherwise tries again at 3.1 after any refusal, which
		// doubles the handshakes of a refused fleet and, on NATS, replaces the broker's
		// reason with "unacceptable protocol version".
		SetProtocolVersion(4).
		SetAutoReconnect(false).
		SetConnectRetry(false).
		SetOrderMatters(s.Kind == Consumer || s.Kind == Watch).
		SetStore(DiscardStore{}).
		SetKeepAlive(keepAlive).
		SetPingTimeout(pingTimeout).
		SetConnectTimeout(s.timeout()).
		SetWriteTimeout(writeTimeout).
		SetCustomOpenConnectionFn(open).
		SetAutoAckDisabled(s.Kind == Consumer)
	if s.TLS != nil {
		o.SetTLSConfig(s.TLS)
	}
	if s.Will != nil {
		o.SetBinaryWill(s.Will.Topic, s.Will.Payload, 1, s.Will.Retained)
	}
	if s.OnMessage != nil {
		o.SetDefaultPublishHandler(s.OnMessage)
	}
	if s.OnLost != nil {
		lost := s.OnLost
		o.SetConnectionLostHandler(func(_ mqtt.Client, err error) { lost(err) })
	}
	return o
}

// Connect makes a new paho client for s and connects it once, within s's timeout. It
// returns the connected client, or an error that names the broker and wraps ErrSession,
// ErrTimeout or paho's reason.
func Connect(s Session) (mqtt.Client, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	cli := mqtt.NewClient(clientOptions(s))
	if err := Wait(cli.Connect(), s.timeout()+connectGrace, "mqttconn: connect "+s.Broker); err != nil {
		cli.Disconnect(0)
		return nil, err
	}
	return cli, nil
}

// Wait waits for tok at most d (DefaultTimeout when d is not positive). The error reads
// "op: reason" and wraps ErrTimeout when the broker did not answer in time,
// ErrSubscribeRefused when it refused a filter of a subscription, paho's error otherwise.
func Wait(tok mqtt.Token, d time.Duration, op string) error {
	if d <= 0 {
		d = DefaultTimeout
	}
	if !tok.WaitTimeout(d) {
		return fmt.Errorf("%s: %w", op, ErrTimeout)
	}
	if err := tok.Error(); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	if st, ok := tok.(*mqtt.SubscribeToken); ok {
		for filter, code := range st.Result() {
			if code >= 0x80 {
				return fmt.Errorf("%s: %s: %w", op, filter, ErrSubscribeRefused)
			}
		}
	}
	return nil
}
