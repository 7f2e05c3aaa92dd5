package mqttconn

import (
	"crypto/tls"
	"errors"
	"fmt"
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
	// Watch is a long-lived observer (the fleet view). It must have a lost handler.
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
	// PingTimeout, when longer than Timeout, bounds the wait for a ping's answer instead
	// (HQ's consumer, whose pings queue behind its PUBACKs at a busy broker).
	PingTimeout time.Duration
	// Will is published, QoS 1, by the broker when the session is lost. Required for Till.
	Will *Will
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
	}
	return nil
}

func (s *Session) timeout() time.Duration {
	if s.Timeout > 0 {
		return s.Timeout
	}
	return DefaultTimeout
}

// clientOptions are paho's options for s: a clean session, no automatic reconnect or
// connect retry (the caller makes a new client for the next session), the connection Open
// makes, and DiscardStore, which is right only because of the first two. Handlers run on
// goroutines of their own (order does not matter), except a Consumer's, which run in the
// broker's order on paho's router so that a handler that waits stops the reads.
func clientOptions(s Session) *mqtt.ClientOptions {
	keepAlive := s.KeepAlive
	if keepAlive <= 0 {
		keepAlive = DefaultKeepAlive
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
		SetCleanSession(true).
		SetAutoReconnect(false).
		SetConnectRetry(false).
		SetOrderMatters(s.Kind == Consumer).
		SetStore(DiscardStore{}).
		SetKeepAlive(keepAlive).
		SetPingTimeout(max(s.timeout(), s.PingTimeout)).
		SetConnectTimeout(s.timeout()).
		SetWriteTimeout(s.timeout()).
		SetCustomOpenConnectionFn(Open).
		SetAutoAckDisabled(s.Kind == Consumer)
	if s.TLS != nil {
		o.SetTLSConfig(s.TLS)
	}
	if s.Will != nil {
		o.SetBinaryWill(s.Will.Topic, s.Will.Payload, 1, s.Will.Retained)
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
