package hq

import (
	"context"
	"sync"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"tillbox/uplink/mqttconn"
	"tillbox/uplink/wire"
)

// TillStatus is one till's retained status as the fleet view shows it.
type TillStatus struct {
	TillKey
	Status wire.Status
	Err    string // why the status did not decode, when it did not

	// What HQ saw, by its own clock (zero in Fleet's answer, which reads the broker only).
	FirstSeen, LastSeen time.Time            // first and last status received (the will excluded)
	LostSince           *time.Time           // when the will arrived; nil unless lost
	DeviceSince         map[string]time.Time `json:",omitempty"` // when each device entered its state
	Conflicts           int                  `json:",omitempty"` // chain conflicts and broken chains recorded
	LastConflict        *time.Time           `json:",omitempty"`
	Refused             int                  `json:",omitempty"` // messages refused and quarantined (quarantine_bound.go)
	LastRefused         *time.Time           `json:",omitempty"`
	QuarantineDropped   uint64               `json:",omitempty"` // over the quarantine's bound, not kept
	LastDropped         *time.Time           `json:",omitempty"`
	CertSerial          string               `json:",omitempty"` // of the certificate HQ's CA issued it
}

// Fleet collects every till's retained status from the broker: it subscribes, takes what
// the broker sends until quiet passes without a new one (or wait in all), and returns the
// tills sorted by store and till.
func Fleet(ctx context.Context, o Options, quiet, wait time.Duration) ([]TillStatus, error) {
	topics := wire.Topics{Prefix: o.Prefix}
	cli, err := o.connect(mqttconn.Brief, "fleet", nil)
	if err != nil {
		return nil, err
	}
	defer cli.Disconnect(100)
	var mu sync.Mutex
	got := map[TillKey]TillStatus{}
	fresh := make(chan struct{}, 1)
	sub := cli.Subscribe(topics.AllTills(wire.KindStatus), 1, func(_ mqtt.Client, m mqtt.Message) {
		t, err := topics.Parse(m.Topic())
		if err != nil || len(m.Payload()) == 0 {
			return
		}
		ts := TillStatus{TillKey: TillKey{t.Store, t.Till}}
		if s, err := wire.DecodeStatus(m.Payload()); err != nil {
			ts.Err = err.Error()
		} else {
			ts.Status = s
		}
		mu.Lock()
		got[ts.TillKey] = ts
		mu.Unlock()
		select {
		case fresh <- struct{}{}:
		default:
		}
	})
	if err := o.wait(sub, "fleet", "subscribe"); err != nil {
		return nil, err
	}
	all := time.NewTimer(wait)
	defer all.Stop()
	for done := false; !done; {
		q := time.NewTimer(quiet)
		select {
		case <-ctx.Done():
			q.Stop()
			return nil, ctx.Err()
		case <-fresh:
		case <-q.C:
			done = true
		case <-all.C:
			done = true
		}
		q.Stop()
	}
	mu.Lock()
	defer mu.Unlock()
	out := make([]TillStatus, 0, len(got))
	for _, ts := range got {
		out = append(out, ts)
	}
	sortTills(out)
	return out, nil
}
