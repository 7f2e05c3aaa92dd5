package mqttconn

import (
	"crypto/tls"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
)

// Session describes one session of a client whose outbox is elsewhere (the till's
// ledger; for HQ, the tills' ledgers).
type Session struct {
	Broker, ClientID   string
	Username, Password string
	TLS                *tls.Config   // nil: none
	KeepAlive          time.Duration // zero: paho's default
	// Timeout bounds connecting, each ping and each socket write.
	Timeout time.Duration
}

// ClientOptions are paho's options for one session: a clean session, no automatic
// reconnect or connect retry (the caller makes a new client for the next session), the
// connection Open makes, and DiscardStore, which is right only because of the first two.
// Handlers run on goroutines of their own (order does not matter). The caller adds what
// is its own: handlers, a will, acknowledgement mode.
func ClientOptions(s Session) *mqtt.ClientOptions {
	o := mqtt.NewClientOptions().
		AddBroker(s.Broker).
		SetClientID(s.ClientID).
		SetUsername(s.Username).
		SetPassword(s.Password).
		SetCleanSession(true).
		SetAutoReconnect(false).
		SetConnectRetry(false).
		SetOrderMatters(false).
		SetStore(DiscardStore{}).
		SetPingTimeout(s.Timeout).
		SetConnectTimeout(s.Timeout).
		SetWriteTimeout(s.Timeout).
		SetCustomOpenConnectionFn(Open)
	if s.KeepAlive > 0 {
		o.SetKeepAlive(s.KeepAlive)
	}
	if s.TLS != nil {
		o.SetTLSConfig(s.TLS)
	}
	return o
}
