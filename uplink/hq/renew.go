package hq

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"tillbox/ledger/journal"
	"tillbox/uplink/identity"
	"tillbox/uplink/mqttconn"
	"tillbox/uplink/wire"
)

// ErrRenewals: ServeRenewals lacks what it needs to check and sign.
var ErrRenewals = errors.New("renewals need the device key registry and HQ's signing key")

// ServeRenewals answers the tills' certificate renewals until ctx is done (see
// identity.RenewRequest): it subscribes to every till's renew topic, has ca answer each
// request the till's registered device key signed (o.Keys), and publishes the answer,
// signed with o.SignKey, retained on the till's cert topic. issued, when not nil, is
// told of each certificate issued. It reconnects with a backoff when the link drops;
// ready, when not nil, is closed after the first subscription.
func ServeRenewals(ctx context.Context, o Options, ca *identity.CA, issued func(TillKey, *x509.Certificate), ready chan<- struct{}) error {
	if o.Keys == nil || o.SignKey == nil {
		return fmt.Errorf("hq: renewals: %w", ErrRenewals)
	}
	topics := wire.Topics{Prefix: o.Prefix}
	prefix := topics.AllTills(identity.RenewTopicKind)
	prefix = prefix[:strings.Index(prefix, "+")]
	type request struct {
		k       TillKey
		payload []byte
	}
	work := make(chan request, 64)
	var once sync.Once
	for attempt := 0; ; attempt++ {
		lost := make(chan error, 1)
		cli, err := o.connect(mqttconn.Watch, "renewals", func(err error) {
			select {
			case lost <- err:
			default:
			}
		})
		if err == nil {
			h := func(_ mqtt.Client, m mqtt.Message) {
				// {prefix}/{store}/{till}/renew
				lv := strings.Split(strings.TrimPrefix(m.Topic(), prefix), "/")
				if len(lv) != 3 || !journal.ValidID(lv[0]) || !journal.ValidID(lv[1]) || m.Retained() {
					return
				}
				select {
				case work <- request{TillKey{lv[0], lv[1]}, append([]byte(nil), m.Payload()...)}:
				default:
					if o.Logger != nil {
						o.Logger.Warn("hq: renewals: busy, request dropped", "till", lv[0]+"/"+lv[1])
					}
				}
			}
			if err = o.wait(cli.Subscribe(topics.AllTills(identity.RenewTopicKind), 1, h), "renewals", "subscribe"); err == nil {
				attempt = 0
				once.Do(func() {
					if ready != nil {
						close(ready)
					}
				})
			serve:
				for {
					select {
					case <-ctx.Done():
						break serve
					case err = <-lost:
						break serve
					case r := <-work:
						answerRenewal(o, ca, cli, topics, r.k, r.payload, issued)
					}
				}
			}
			cli.Disconnect(100)
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if o.Logger != nil {
			o.Logger.Warn("hq: renewals", "err", err)
		}
		d := min(200*time.Millisecond<<min(attempt, 6), 10*time.Second)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(d/2 + time.Duration(rand.Int64N(int64(d/2)+1))):
		}
	}
}

func answerRenewal(o Options, ca *identity.CA, cli mqtt.Client, topics wire.Topics, k TillKey, payload []byte, issued func(TillKey, *x509.Certificate)) {
	key, err := o.Keys.DeviceKey(k.Store, k.Till)
	if err != nil {
		if o.Logger != nil {
			o.Logger.Warn("hq: renewals: device key", "till", k.String(), "err", err)
		}
		return
	}
	reply, cert, err := ca.AnswerRenewal(payload, k.Store, k.Till, key, o.SignKey, time.Now())
	if err != nil && o.Logger != nil {
		o.Logger.Warn("hq: renewal refused", "till", k.String(), "err", err)
	}
	if reply == nil {
		return
	}
	if err := o.wait(cli.Publish(topics.Till(k.Store, k.Till, identity.CertTopicKind), 1, true, reply), "renewals", "publish"); err != nil {
		if o.Logger != nil {
			o.Logger.Warn("hq: renewals: publish", "till", k.String(), "err", err)
		}
		return
	}
	if cert != nil && issued != nil {
		issued(k, cert)
	}
}
