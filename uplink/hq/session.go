package hq

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"tillbox/uplink/mqttconn"
)

// connect opens a session of kind at o's broker with o's identity. Its client id is
// o.ClientID, or "tillhq-{role}-{host}-{pid}-{random}", which no other session shares, so
// that two of them never take each other's session over.
func (o Options) connect(kind mqttconn.Kind, role string, onLost func(error)) (mqtt.Client, error) {
	id := o.ClientID
	if id == "" {
		id = sessionID(role)
	}
	var pingTimeout time.Duration
	if kind == mqttconn.Watch {
		// A watch's handler may wait on the store while the broker serves a storm: its
		// session, like the consumer's, is lost only when nothing arrives at all.
		pingTimeout = max(o.WaitTimeout, hqPingTimeout)
	}
	cli, err := mqttconn.Connect(mqttconn.Session{Kind: kind, Broker: o.Broker, ClientID: id,
		Username: o.Username, Password: o.Password, TLS: o.TLS, Timeout: o.WaitTimeout, PingTimeout: pingTimeout, OnLost: onLost})
	if err != nil {
		return nil, fmt.Errorf("hq: %s: %w", role, err)
	}
	return cli, nil
}

func sessionID(role string) string {
	h, _ := os.Hostname()
	b := make([]byte, 3)
	rand.Read(b)
	return fmt.Sprintf("tillhq-%s-%s-%d-%s", role, h, os.Getpid(), hex.EncodeToString(b))
}

// wait waits for tok within o's wait timeout (mqttconn.DefaultTimeout when unset).
func (o Options) wait(tok mqtt.Token, role, op string) error {
	return mqttconn.Wait(tok, o.WaitTimeout, "hq: "+role+": "+op)
}
