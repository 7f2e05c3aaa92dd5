package hq

import (
	"sync"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"tillbox/uplink/wire"
)

// ackQoS is the QoS of the acks and held messages HQ publishes: 0. The tills subscribe
// to them with QoS 0 (see uplink's subscribeQoS), so the broker delivers them at QoS 0
// whatever HQ publishes with; a QoS 1 publish only added HQ's wait for the broker's
// PUBACK, and that wait failed under a fleet. In a storm of 5,000 tills, Mosquitto 2.0's
// PUBACKs for HQ's acks stopped coming for minutes while it went on delivering and taking
// the PUBACKs of the tills' entries over the same connections: with one ack of each till
// in flight until its PUBACK, no till got another ack; without that bound, tens of
// thousands waited for a PUBACK, each holding one of the connection's 65,535 message ids,
// and paho's search for a free id walked most of the id space at every publish (87% of
// tillhq's CPU). At QoS 0 an ack holds no id and waits for nothing; one lost on the way is
// superseded by the retained one at the till's next connect, by the next ack, or by HQ's
// answer to the till's probe, as one lost between the broker and the till always was. On
// a NATS cluster QoS 0 also halves the replicated writes per ack: NATS stores a retained
// message of any QoS before it delivers it, and a QoS 1 one a second time for the PUBACK.
const ackQoS = 0

// maxAcksInFlight bounds the acks (and held messages) a session has handed to the MQTT
// client and that are not yet written to the broker's socket.
const maxAcksInFlight = 4096

// ackFlow publishes a session's acks and held messages with at most one ack of each till
// in flight (handed to the MQTT client and not yet written), and at most maxAcksInFlight
// in all. An ack that is due while its till's last one is in flight, or while the bound
// is reached, waits; a later one for the same till replaces it (an ack says everything
// through its seq is stored, so the newest says all the older ones did), and it goes when
// its till's ack in flight is written. So a till's acks reach the broker in increasing
// order, the retained one is the newest, and what HQ holds for the broker stays bounded
// whatever the fleet and the broker's pace: while the broker reads HQ's socket slowly,
// acks wait here, one per till, the newest, rather than each in the socket. A held message
// goes with the ack it was published beside (ahead of it, over the same connection:
// spread routes both by the ack's topic); an ack that replaces a waiting one keeps its
// held message only when it is through the same seq.
//
// The flow belongs to one session: when the session's connection is lost its publishes
// complete with an error, and the waiting acks are dropped with the flow; the next
// session publishes every till's watermark again (republishAcks), and a till that missed
// a held message probes again.
type ackFlow struct {
	c   *Consumer
	cli mqtt.Client

	mu       sync.Mutex
	inFlight map[TillKey]bool
	waiting  map[TillKey]ackDue
	blocked  []TillKey // tills whose ack waits for the bound, in the order they came
	n        int       // publishes in flight (acks and held messages)
}

// ackDue is an ack waiting to be published: through seq, with what HQ holds above it.
type ackDue struct {
	through uint64
	held    *Held
}

func newAckFlow(c *Consumer, cli mqtt.Client) *ackFlow {
	return &ackFlow{c: c, cli: cli, inFlight: map[TillKey]bool{}, waiting: map[TillKey]ackDue{}}
}

// send publishes till k's ack through seq (with h, when not nil, ahead of it) now, or as
// soon as the till's ack in flight and the bound let it. It never blocks on the network.
func (f *ackFlow) send(k TillKey, through uint64, h *Held) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.inFlight[k] || f.n >= maxAcksInFlight {
		w, ok := f.waiting[k]
		switch {
		case !ok:
			if !f.inFlight[k] {
				f.blocked = append(f.blocked, k)
			}
			w = ackDue{through, h}
		case through > w.through:
			w = ackDue{through, h}
		case through == w.through && h != nil:
			w.held = h
		}
		f.waiting[k] = w
		return
	}
	f.publish(k, ackDue{through, h})
}

// publish sends one ack (and its held message) and marks the till in flight. f.mu is held.
func (f *ackFlow) publish(k TillKey, a ackDue) {
	c := f.c
	f.inFlight[k] = true
	var heldTok mqtt.Token
	if a.held != nil {
		heldTok = f.cli.Publish(c.topics.Till(k.Store, k.Till, wire.KindHeld), ackQoS, false,
			wire.HeldPayload(c.o.SignKey, k.Store, k.Till, a.held.Holding()))
		f.n++
	}
	tok := f.cli.Publish(c.topics.Ack(k.Store, k.Till), ackQoS, true, c.ackPayload(k, a.through))
	f.n++
	c.acks.Add(1)
	go func() {
		sent := 1
		if heldTok != nil {
			<-heldTok.Done()
			sent++
		}
		<-tok.Done()
		f.done(k, sent)
	}()
}

// done is called when till k's publishes in flight (n of them) are written or have
// failed: its waiting ack goes, then those that waited for the bound.
func (f *ackFlow) done(k TillKey, n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.n -= n
	delete(f.inFlight, k)
	if w, ok := f.waiting[k]; ok {
		if f.n < maxAcksInFlight {
			delete(f.waiting, k)
			f.publish(k, w)
		} else {
			f.blocked = append(f.blocked, k)
		}
	}
	for len(f.blocked) > 0 && f.n < maxAcksInFlight {
		b := f.blocked[0]
		f.blocked = f.blocked[1:]
		w, ok := f.waiting[b]
		if !ok || f.inFlight[b] {
			// Gone already, or in flight again: its own completion sends what waits.
			continue
		}
		delete(f.waiting, b)
		f.publish(b, w)
	}
	if len(f.blocked) == 0 {
		f.blocked = nil // let a long queue's array go
	}
}

// pending is how many acks wait (for the test of the bound).
func (f *ackFlow) pending() (inFlight, waiting int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.n, len(f.waiting)
}
