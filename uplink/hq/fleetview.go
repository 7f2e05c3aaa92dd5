package hq

import (
	"context"
	"math/rand/v2"
	"sort"
	"strings"
	"sync"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"tillbox/uplink/mqttconn"
	"tillbox/uplink/wire"
)

// FleetFilter selects tills for the fleet views; zero values select everything.
type FleetFilter struct {
	Store     string
	State     string // online, lost, stopped
	Attention bool   // only tills that need someone
	// Thresholds decide "needs someone"; nil is DefaultThresholds.
	Thresholds *Thresholds
}

// Filter returns the tills of ts that f selects, in their order.
func (f FleetFilter) Filter(ts []TillStatus, now time.Time) []TillStatus {
	var out []TillStatus
	for _, t := range ts {
		if f.Store != "" && t.Store != f.Store || f.State != "" && t.Status.State != f.State ||
			f.Attention && len(f.Thresholds.Alerts(t, now)) == 0 {
			continue
		}
		out = append(out, t)
	}
	return out
}

// FleetEvent is an event a till published, or one HQ raised about it (Source "hq": the
// will, a chain conflict), as the fleet view and the event history keep it.
type FleetEvent struct {
	TillKey
	Event    wire.Event
	Source   string    // "till" or "hq"
	Received time.Time // HQ's clock
}

// FleetView is the fleet as HQ knows it: every till's last full status and what HQ saw of
// it (first and last seen, lost since, device state changes, chain conflicts), and the
// most recent events. Observe feeds it; it is safe for concurrent use. With Persist, all
// of it is written through to a FleetStore and survives a restart.
type FleetView struct {
	// Now is HQ's clock for first/last seen and lost since. Default time.Now.
	Now func() time.Time
	// CertSerial, when set, names the certificate serial HQ's CA issued to a till.
	CertSerial func(TillKey) string
	// OnError receives what the FleetStore refused; default: dropped silently.
	OnError func(error)
	// EventRate bounds the events kept of one till per minute (a till that floods its
	// event topic cannot fill HQ's disk); the others are counted (Dropped). Default
	// DefaultEventRate.
	EventRate int

	mu      sync.Mutex
	window  map[TillKey]*eventWindow
	dropped map[TillKey]uint64
	tills   map[TillKey]TillStatus
	events  []FleetEvent // newest last, at most maxViewEvents
	topics  wire.Topics
	store   FleetStore
}

const maxViewEvents = 200

// DefaultEventRate is FleetView.EventRate's default.
const DefaultEventRate = 120

type eventWindow struct {
	start time.Time
	n     int
}

// Dropped returns how many events of each till were over EventRate and not kept.
func (v *FleetView) Dropped() map[TillKey]uint64 {
	v.mu.Lock()
	defer v.mu.Unlock()
	out := make(map[TillKey]uint64, len(v.dropped))
	for k, n := range v.dropped {
		out[k] = n
	}
	return out
}

// admit reports whether one more event of k fits this minute's bound; v.mu is held.
func (v *FleetView) admit(k TillKey, now time.Time) bool {
	limit := v.EventRate
	if limit <= 0 {
		limit = DefaultEventRate
	}
	if v.window == nil {
		v.window, v.dropped = map[TillKey]*eventWindow{}, map[TillKey]uint64{}
	}
	w := v.window[k]
	if w == nil || now.Sub(w.start) >= time.Minute || now.Before(w.start) {
		w = &eventWindow{start: now}
		v.window[k] = w
	}
	if w.n >= limit {
		v.dropped[k]++
		return false
	}
	w.n++
	return true
}

// NewFleetView makes an empty view for topics under prefix.
func NewFleetView(prefix string) *FleetView {
	return &FleetView{tills: map[TillKey]TillStatus{}, topics: wire.Topics{Prefix: prefix}}
}

func (v *FleetView) now() time.Time {
	if v.Now != nil {
		return v.Now().UTC()
	}
	return time.Now().UTC()
}

// Persist loads the inventory and the most recent events from fs into v, and from then
// on writes every change through to fs before Observe returns.
func (v *FleetView) Persist(ctx context.Context, fs FleetStore) error {
	devs, err := fs.Devices(ctx)
	if err != nil {
		return err
	}
	evs, err := fs.Events(ctx, EventQuery{Limit: maxViewEvents})
	if err != nil {
		return err
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	for _, d := range devs {
		v.tills[d.TillKey] = d
	}
	v.events = evs
	v.store = fs
	return nil
}

// Seed puts what an inventory knows into v, before any Observe.
func (v *FleetView) Seed(devs []TillStatus) {
	v.mu.Lock()
	defer v.mu.Unlock()
	for _, d := range devs {
		v.tills[d.TillKey] = d
	}
}

func (v *FleetView) fail(err error) {
	if err != nil && v.OnError != nil {
		v.OnError(err)
	}
}

// Observe takes one message from a status or event topic. An empty retained status (a
// till removed from the fleet) removes the till from the view (the inventory keeps it).
// The will (a status that says only "lost") keeps everything the till last said of
// itself and marks it lost since the will arrived; HQ records a "lost" event then.
func (v *FleetView) Observe(topic string, payload []byte) {
	t, err := v.topics.Parse(topic)
	if err != nil {
		return
	}
	k := TillKey{t.Store, t.Till}
	now := v.now()
	v.mu.Lock()
	defer v.mu.Unlock()
	switch t.Kind {
	case wire.KindStatus:
		if len(payload) == 0 {
			delete(v.tills, k)
			return
		}
		prev, known := v.tills[k]
		ts := prev
		ts.TillKey = k
		if !known || ts.FirstSeen.IsZero() {
			ts.FirstSeen = now
		}
		if v.CertSerial != nil {
			if sn := v.CertSerial(k); sn != "" {
				ts.CertSerial = sn
			}
		}
		s, err := wire.DecodeStatus(payload)
		switch {
		case err != nil:
			ts.Err = err.Error()
			ts.LastSeen = now
		case s.State == wire.StateLost && s.At == nil:
			// The will: what the till last said stays, only its state changes.
			if ts.Status.State != wire.StateLost || ts.LostSince == nil {
				ts.LostSince = &now
				v.addEvent(FleetEvent{TillKey: k, Source: "hq", Received: now, Event: wire.Event{
					Kind: "lost", Severity: "error", At: now, Detail: "the broker published the till's last will"}})
			}
			if !known || prev.Err != "" {
				ts.Status = s
			}
			ts.Err = ""
			ts.Status.State = wire.StateLost
		default:
			ts.Err = ""
			ts.LastSeen = now
			if s.State != wire.StateLost {
				ts.LostSince = nil
			}
			since := map[string]time.Time{}
			for _, d := range s.Devices {
				since[d.Name] = now
				for _, old := range ts.Status.Devices {
					if old.Name == d.Name && old.State == d.State {
						if at, ok := ts.DeviceSince[d.Name]; ok {
							since[d.Name] = at
						}
					}
				}
			}
			ts.DeviceSince = since
			ts.Status = s
		}
		v.tills[k] = ts
		if v.store != nil {
			v.fail(v.store.PutDevice(context.Background(), ts))
		}
	case wire.KindEvent:
		e, err := wire.DecodeEvent(payload)
		if err != nil || !v.admit(k, now) {
			return
		}
		// The history is ordered by the till's time; one the till cannot have meant is
		// replaced by the time HQ received it.
		if e.At.Year() < 2000 || e.At.Year() > 2200 {
			e.At = now
		}
		v.addEvent(FleetEvent{TillKey: k, Event: e, Source: "till", Received: now})
	}
}

// RecordConflict records a chain conflict or a broken chain HQ found in a till's entries:
// an event of kind "conflict" and a count on the till that raises AlertConflict.
func (v *FleetView) RecordConflict(k TillKey, kind, detail string) {
	now := v.now()
	v.mu.Lock()
	defer v.mu.Unlock()
	ts, ok := v.tills[k]
	if !ok {
		ts = TillStatus{TillKey: k, FirstSeen: now}
	}
	ts.Conflicts++
	ts.LastConflict = &now
	v.tills[k] = ts
	if v.store != nil {
		v.fail(v.store.PutDevice(context.Background(), ts))
	}
	v.addEvent(FleetEvent{TillKey: k, Source: "hq", Received: now, Event: wire.Event{Kind: kind, Severity: "error", Detail: detail, At: now}})
}

// addEvent keeps e and writes it through; v.mu is held.
func (v *FleetView) addEvent(e FleetEvent) {
	if len(v.events) >= maxViewEvents {
		v.events = v.events[1:]
	}
	v.events = append(v.events, e)
	if v.store != nil {
		v.fail(v.store.AddEvent(context.Background(), e))
	}
}

// Tills returns every till's status, sorted by store and till.
func (v *FleetView) Tills() []TillStatus {
	v.mu.Lock()
	out := make([]TillStatus, 0, len(v.tills))
	for _, t := range v.tills {
		if t.Status.State == "" && t.Err == "" {
			continue // known only from a conflict: no status yet
		}
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
	if o.ClientID == "" {
		o.ClientID = sessionID("view")
	}
	var once sync.Once
	// The handler only decodes and stores under a mutex: it never blocks paho.
	return o.watchTills(ctx, "fleet view", func(_ mqtt.Client, m mqtt.Message) { v.Observe(m.Topic(), m.Payload()) },
		func(_ mqtt.Client, lost <-chan error) error {
			once.Do(func() {
				if ready != nil {
					close(ready)
				}
			})
			select {
			case <-ctx.Done():
				return nil
			case err := <-lost:
				return err
			}
		}, func(err error) {
			if o.Logger != nil {
				o.Logger.Warn("hq: fleet view", "err", err)
			}
		})
}

// watchTills subscribes to every till's status and events with h and runs session on
// the connection (lost says when the link drops); when the connection fails or session
// returns, it logs the error with warn and connects again after a backoff (200 ms
// doubling to 10 s, jittered; from the start again after a subscription), until ctx is
// done. The fleet view and the rollout controller watch the fleet this way.
func (o Options) watchTills(ctx context.Context, what string, h mqtt.MessageHandler, session func(cli mqtt.Client, lost <-chan error) error, warn func(error)) error {
	topics := wire.Topics{Prefix: o.Prefix}
	filters := map[string]byte{topics.AllTills(wire.KindStatus): 1, topics.AllTills(wire.KindEvent): 1}
	for attempt := 0; ; attempt++ {
		lost := make(chan error, 1)
		cli, err := o.connect(mqttconn.Watch, what, func(err error) {
			select {
			case lost <- err:
			default:
			}
		})
		if err == nil {
			if err = o.wait(cli.SubscribeMultiple(filters, h), what, "subscribe"); err == nil {
				attempt = 0
				err = session(cli, lost)
			}
			cli.Disconnect(100)
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		warn(err)
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
