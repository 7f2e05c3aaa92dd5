package uplink

import (
	"context"
	"crypto/ed25519"
	"crypto/tls"
	"encoding/json"
	"log/slog"
	"time"

	"tillbox/uplink/mqttconn"
	"tillbox/uplink/wire"
)

// Options configure a Client. Only Broker is required.
type Options struct {
	// Broker is the MQTT 3.1.1 broker's URL: tcp://host:1883 or ssl://host:8883; or the
	// URLs of a cluster's nodes, comma-separated: the first is tried first, and after a
	// failed attempt or a lost link the next one (round the list), so a till moves to
	// another node when its node dies. Its ledger stays the outbox: what a dead node had
	// not passed on is resent from the watermark.
	Broker string
	// Prefix of every topic. Default wire.DefaultPrefix.
	Prefix string
	// ClientID is the MQTT client id. It must be stable per till, so that broker ACLs can
	// bind it and a second box answering to the same id takes the session over visibly.
	// Default "tillbox-{store}-{till}".
	ClientID string
	// Username, Password and TLS are the till's own identity at the broker. With mutual
	// TLS (identity.Load's TLS) the certificate's name "store/till" is the username, and
	// the broker's ACL lets the till use only its own topics.
	Username, Password string
	TLS                *tls.Config
	// HQKey is head office's signing key. When set, a catalog, a command or an ack is used
	// only when HQ signed it (a command only when it names this till and has not expired,
	// an ack only when it names this till); anything else is refused with an event, and
	// the watermark does not move on a refused ack. Nil accepts them unsigned (an embedded
	// HQ on the same box, a laptop).
	HQKey ed25519.PublicKey

	// Window is the most entries sent and not yet acknowledged by HQ. It bounds paho's
	// in-flight messages too (MQTT allows 65,535). The broker's queue toward HQ must hold
	// every till's window (Mosquitto's max_queued_messages >= tills x Window / HQ's
	// connections, as in scripts/mosquitto/tillbox.conf) so that a slow HQ never makes it
	// drop messages.
	// Default 500.
	Window int
	// ResendAfter: when HQ's watermark has not moved for this long while entries are
	// outstanding, the till probes: it sends its last entry sent once more (with a
	// watermark of 0, its first entry too). The broker queues the probe behind whatever of
	// the till's still waits for HQ, so HQ answers it (an ack, with a held message saying
	// what it holds above the watermark) only once it has taken all that in; the entries
	// it then still lacks are sent again (the broker lost them, or they wait on another
	// of HQ's connections), and, from an HQ that sends no held message, everything from
	// the watermark. What merely waits in a fleet's backlog at the broker is never sent
	// twice. Each further probe without progress waits twice as long, up to 8 times
	// ResendAfter; the sixth timeout in a row without progress (about 8 minutes at the
	// default) sends the first entry above the watermark with the probe.
	// Default 15s.
	ResendAfter time.Duration
	// BackoffMin and BackoffMax bound the jittered exponential wait between connection
	// attempts. Defaults 500ms and 60s.
	BackoffMin, BackoffMax time.Duration
	// ReconnectJitter spreads the first attempt after a lost link uniformly over
	// [0, ReconnectJitter] (at most BackoffMax): a fleet that lost the same broker comes
	// back over this window, not all in the same instant. Default 5s.
	ReconnectJitter time.Duration
	// TxQoS0 publishes the entries with QoS 0 instead of 1: for a NATS cluster
	// (scripts/nats/tillbox.conf), not for Mosquitto. The watermark moves only on HQ's
	// ack, so an entry the broker loses is sent again after ResendAfter either way; what
	// QoS 1 adds is the broker's PUBACK, which nothing here waits for. On NATS's MQTT side
	// a QoS 1 publish is stored by a request the connection waits on, one at a time,
	// which fails the connection when it takes over 4 s (a fleet reconnecting at once to
	// a busy cluster): the tills reconnect and send it all again. A QoS 0 one is stored
	// by the replicated stream that captures the tx subjects, with no request. Mosquitto
	// keeps only QoS 1 messages for HQ's persistent session while HQ is away, so there a
	// QoS 0 entry would be dropped at every HQ restart. Default false.
	TxQoS0 bool
	// WaitTimeout bounds every wait on the broker: connect, subscribe, a publish handed to
	// the network. Default 10s.
	WaitTimeout time.Duration
	// KeepAlive is the MQTT keep-alive. Default 30s.
	KeepAlive time.Duration
	// PollInterval: how often the ledger is checked for new entries when Notify is not
	// called. Default 1s.
	PollInterval time.Duration
	// StatusInterval: how often the retained status is refreshed while online. Default 60s.
	StatusInterval time.Duration
	// OfflineAfter: a loss of the link shorter than this is not journaled (a broker
	// restart). Default 30s.
	OfflineAfter time.Duration
	// LongOffline: coming back after an outage longer than this raises a long-offline
	// event. Default 4h.
	LongOffline time.Duration

	// Info is called when a status is published, for what only the firmware knows.
	Info func() Info
	// Commands are extra commands the firmware carries out (for example wire.CmdUpdate).
	// Each is called with a context bounded by WaitTimeout*6 and must not block beyond it.
	Commands map[string]CommandFunc
	// Desired, when set, receives the till's retained desired firmware each time HQ
	// publishes it (on connect too), once it decoded and, with HQKey, verified; a
	// withdrawn one has no Version. It is called on a paho goroutine and must not block.
	Desired func(wire.Desired)

	// Logger receives connection changes and rejected input. Default: discard.
	Logger *slog.Logger
	// Clock is the time source. Default time.Now.
	Clock func() time.Time
}

// Info is what the firmware tells the uplink about the box for the fleet view.
type Info struct {
	Version string
	Slot    string // the A/B slot the firmware runs from ("a", "b"; "" when not known)
	Board   string
	Devices []wire.Device
}

// CommandFunc carries out one fleet command and returns its result.
type CommandFunc func(ctx context.Context, args json.RawMessage) (json.RawMessage, error)

func (o *Options) defaults(store, till string) {
	if o.Prefix == "" {
		o.Prefix = wire.DefaultPrefix
	}
	if o.ClientID == "" {
		o.ClientID = "tillbox-" + store + "-" + till
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	if o.Window <= 0 {
		o.Window = 500
	}
	if o.Window > 60000 {
		o.Window = 60000
	}
	def(&o.ResendAfter, 15*time.Second)
	def(&o.BackoffMin, 500*time.Millisecond)
	def(&o.BackoffMax, time.Minute)
	def(&o.ReconnectJitter, 5*time.Second)
	def(&o.WaitTimeout, mqttconn.DefaultTimeout)
	def(&o.KeepAlive, mqttconn.DefaultKeepAlive)
	def(&o.PollInterval, time.Second)
	def(&o.StatusInterval, time.Minute)
	def(&o.OfflineAfter, 30*time.Second)
	def(&o.LongOffline, 4*time.Hour)
	if o.BackoffMax < o.BackoffMin {
		o.BackoffMax = o.BackoffMin
	}
	if o.Info == nil {
		o.Info = func() Info { return Info{} }
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Clock == nil {
		o.Clock = time.Now
	}
}
