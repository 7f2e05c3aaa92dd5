package uplink

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"tillbox/uplink/identity"
	"tillbox/uplink/mqttconn"
	"tillbox/uplink/wire"
)

// RenewCertificate renews the till's TLS certificate with HQ over MQTT and installs it
// in id's directory (identity.InstallRenewal): it publishes a request signed with the
// device key on the till's renew topic and waits, until ctx is done, for HQ's signed
// answer on its cert topic. o is the till's uplink options (broker, prefix, TLS with the
// current certificate); its own session uses the client id o.ClientID + "-renew", so the
// till's uplink keeps running meanwhile, and it needs no will. The certificate returned
// is in force from the next connection on: id.TLS reads the files again at each
// handshake. HQ's refusal is an error wrapping identity.ErrRenewalRefused with HQ's reason.
//
// The firmware calls it when id.RenewDue(now, identity.RenewBefore) says so, at start
// and then daily; a failed attempt is simply tried again next time.
func RenewCertificate(ctx context.Context, o Options, id *identity.Identity, store, till string) (*x509.Certificate, error) {
	o.defaults(store, till)
	req, err := id.RenewalRequest(o.Clock())
	if err != nil {
		return nil, fmt.Errorf("uplink: renew: %w", err)
	}
	topics := wire.Topics{Prefix: o.Prefix}
	cli, err := mqttconn.Connect(mqttconn.Session{Kind: mqttconn.Brief, Broker: o.Broker, ClientID: o.ClientID + "-renew",
		Username: o.Username, Password: o.Password, TLS: o.TLS, Timeout: o.WaitTimeout})
	if err != nil {
		return nil, fmt.Errorf("uplink: renew: %w", err)
	}
	defer cli.Disconnect(100)
	type answer struct {
		cert *x509.Certificate
		err  error
	}
	got := make(chan answer, 1)
	sub := cli.Subscribe(topics.Till(store, till, identity.CertTopicKind), 1, func(_ mqtt.Client, m mqtt.Message) {
		cert, err := id.InstallRenewal(m.Payload(), req)
		if err != nil && !errors.Is(err, identity.ErrRenewalRefused) {
			return // an earlier renewal's retained answer, or not for us
		}
		select {
		case got <- answer{cert, err}:
		default:
		}
	})
	if err := mqttconn.Wait(sub, o.WaitTimeout, "uplink: renew: subscribe"); err != nil {
		return nil, err
	}
	if err := mqttconn.Wait(cli.Publish(topics.Till(store, till, identity.RenewTopicKind), 1, false, req), o.WaitTimeout, "uplink: renew: publish"); err != nil {
		return nil, err
	}
	select {
	case <-ctx.Done():
		return nil, fmt.Errorf("uplink: renew: no answer from HQ: %w", ctx.Err())
	case a := <-got:
		if a.err != nil {
			return nil, fmt.Errorf("uplink: renew: %w", a.err)
		}
		return a.cert, nil
	}
}
