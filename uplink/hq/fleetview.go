package hq

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"sync"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"tillbox/uplink/mqttconn"
	"tillbox/uplink/wire"
)

// Thresholds of "needs attention".
const (
	// UnsyncedTooLong: a till whose oldest unsynced entry is older than this.
	UnsyncedTooLong = time.Hour
	// StatusTooOld: an online till whose status is older than this (it publishes one a
	// minute) has stopped talking without its will firing yet.
	StatusTooOld = 5 * time.Minute
	// DiskLow: less free space than this on the till's data partition.
	DiskLow = 100 << 20
)

// devicesFine are the device states that need nobody (board.StateOK and friends).
var devicesFine = map[string]bool{"": true, "ok": true, "online": true, "drawer-open": true}

// Attention lists why a till needs someone, empty when it does not: lost, a stopped till
// with a backlog, sales unsynced for long, a status gone quiet, a device in trouble, low
// disk, a status that does not decode.
func Attention(ts TillStatus, now time.Time) []string {
	if ts.Err != "" {
		return []string{"status does not decode"}
	}
	s := ts.Status
	var why []string
	switch s.State {
	case wire.StateLost:
		why = append(why, "lost")
	case wire.StateStopped:
		if s.Backlog > 0 {
			why = append(why, fmt.Sprintf("stopped with %d unsynced", s.Backlog))
		}
	case wire.StateOnline:
		if s.At != nil && now.Sub(*s.At) > StatusTooOld {
			why = append(why, "silent for "+roundAge(now.Sub(*s.At)))
		}
	}
	if s.OldestUnsynced != nil && now.Sub(*s.OldestUnsynced) > UnsyncedTooLong {
		why = append(why, "unsynced for "+roundAge(now.Sub(*s.OldestUnsynced)))
	}
	for _, d := range s.Devices {
		if !devicesFine[d.State] {
			why = append(why, d.Name+" "+d.State)
		}
	}
	if s.FreeDiskBytes > 0 && s.FreeDiskBytes < DiskLow {
		why = append(why, fmt.Sprintf("disk low (%d MB free)", s.FreeDiskBytes>>20))
	}
	return why
}

func roundAge(d time.Duration) string {
	switch {
	case d >= 48*time.Hour:
		return fmt.Sprintf("%dd", int(d.Hours()/24))
	case d >= time.Hour:
		return fmt.Sprintf("%dh", int(d.Hours()))
	case d >= time.Minute:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	}
	return fmt.Sprintf("%ds", int(d.Seconds()))
}

// FleetFilter selects tills for the fleet views; zero values select everything.
type FleetFilter struct {
	Store     string
	State     string // online, lost, stopped
	Attention bool   // only tills that need someone
}

// Filter returns the tills of ts that f selects, in their order.
func (f FleetFilter) Filter(ts []TillStatus, now time.Time) []TillStatus {
	var out []TillStatus
	for _, t := range ts {
		if f.Store != "" && t.Store != f.Store || f.State != "" && t.Status.State != f.State ||
			f.Attention && len(Attention(t, now)) == 0 {
			continue
		}
		out = append(out, t)
	}
	return out
}

// FleetEvent is an event a till published, as the fleet view keeps it.
type FleetEvent struct {
	TillKey
	Event wire.Event
}

// FleetView is the live picture of the fleet: every till's last retained status and the
// most recent events. Observe feeds it; it is safe for concurrent use.
type FleetView struct {
	mu     sync.Mutex
	tills  map[TillKey]TillStatus
	events []FleetEvent // newest last, at most maxViewEvents
	topics wire.Topics
}

const maxViewEvents = 200

// NewFleetView makes an empty view for topics under prefix.
func NewFleetView(prefix string) *FleetView {
	return &FleetView{tills: map[TillKey]TillStatus{}, topics: wire.Topics{Prefix: prefix}}
}

// Observe takes one message from a status or event topic. An empty retained status (a
// till removed from the fleet) removes the till.
func (v *FleetView) Observe(topic string, payload []byte) {
	t, err := v.topics.Parse(topic)
	if err != nil {
		return
	}
	k := TillKey{t.Store, t.Till}
	v.mu.Lock()
	defer v.mu.Unlock()
	switch t.Kind {
	case wire.KindStatus:
		if len(payload) == 0 {
			delete(v.tills, k)
			return
		}
		ts := TillStatus{TillKey: k}
		if s, err := wire.DecodeStatus(payload); err != nil {
			ts.Err = err.Error()
		} else {
			ts.Status = s
			// The will says only "lost": keep what the till last said of itself (backlog,
			// last sale, devices, when it was last heard of) for whoever goes to look.
			if prev, ok := v.tills[k]; ok && s.State == wire.StateLost && s.At == nil && prev.Err == "" {
				ts.Status = prev.Status
				ts.Status.State = wire.StateLost
			}
		}
		v.tills[k] = ts
	case wire.KindEvent:
		e, err := wire.DecodeEvent(payload)
		if err != nil {
			return
		}
		if len(v.events) >= maxViewEvents {
			v.events = v.events[1:]
		}
		v.events = append(v.events, FleetEvent{TillKey: k, Event: e})
	}
}

// Tills returns every till's status, sorted by store and till.
func (v *FleetView) Tills() []TillStatus {
	v.mu.Lock()
	out := make([]TillStatus, 0, len(v.tills))
	for _, t := range v.tills {
		out = append(out, t)
	}
	v.mu.Unlock()
	sortTills(out)
	return out
}

// Events returns the recent events, newest first.
func (v *FleetView) Events() []FleetEvent {
	v.mu.Lock()
	defer v.mu.Unlock()
	out := make([]FleetEvent, len(v.events))
	for i, e := range v.events {
		out[len(out)-1-i] = e
	}
	return out
}

func sortTills(ts []TillStatus) {
	sort.Slice(ts, func(i, j int) bool {
		if ts[i].Store != ts[j].Store {
			return ts[i].Store < ts[j].Store
		}
		return ts[i].Till < ts[j].Till
	})
}

// WatchFleet keeps v up to date from the broker until ctx is done: it subscribes to every
// till's status and events and reconnects with a backoff when the link drops. ready, when
// not nil, is closed after the first subscription.
func WatchFleet(ctx context.Context, o Options, v *FleetView, ready chan<- struct{}) error {
	topics := wire.Topics{Prefix: o.Prefix}
	if o.ClientID == "" {
		o.ClientID = sessionID("view")
	}
	filters := map[string]byte{topics.AllTills(wire.KindStatus): 1, topics.AllTills(wire.KindEvent): 1}
	// The handler only decodes and stores under a mutex: it never blocks paho.
	h := func(_ mqtt.Client, m mqtt.Message) { v.Observe(m.Topic(), m.Payload()) }
	var once sync.Once
	for attempt := 0; ; attempt++ {
		lost := make(chan error, 1)
		cli, err := o.connect(mqttconn.Watch, "fleet view", func(err error) {
			select {
			case lost <- err:
			default:
			}
		})
		if err == nil {
			if err = o.wait(cli.SubscribeMultiple(filters, h), "fleet view", "subscribe"); err == nil {
				attempt = 0
				once.Do(func() {
					if ready != nil {
						close(ready)
					}
				})
				select {
				case <-ctx.Done():
				case err = <-lost:
				}
			}
			cli.Disconnect(100)
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if o.Logger != nil {
			o.Logger.Warn("hq: fleet view", "err", err)
		}
		d := min(200*time.Millisecond<<min(attempt, 6), 10*time.Second)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(d/2 + time.Duration(rand.Int64N(int64(d/2)+1))):
		}
	}
}

// DevicesText is a till's devices as "name:state, ..." for tables.
func DevicesText(ds []wire.Device) string {
	parts := make([]string, len(ds))
	for i, d := range ds {
		parts[i] = d.Name + ":" + d.State
	}
	return strings.Join(parts, ", ")
}
