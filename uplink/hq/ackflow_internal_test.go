package hq

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"tillbox/uplink/wire"
)

// heldToken is a publish token the test completes by hand, as a broker's PUBACK would.
type heldToken struct {
	done chan struct{}
	once sync.Once
}

func (t *heldToken) Wait() bool                     { <-t.done; return true }
func (t *heldToken) WaitTimeout(time.Duration) bool { <-t.done; return true }
func (t *heldToken) Done() <-chan struct{}          { return t.done }
func (t *heldToken) Error() error                   { return nil }
func (t *heldToken) complete()                      { t.once.Do(func() { close(t.done) }) }

// recordingClient records what is published and leaves each publish in flight until the
// test completes its token.
type recordingClient struct {
	mqtt.Client
	mu   sync.Mutex
	pubs []recordedPub
}

type recordedPub struct {
	topic   string
	payload string
	tok     *heldToken
}

func (r *recordingClient) Publish(topic string, _ byte, _ bool, payload any) mqtt.Token {
	r.mu.Lock()
	defer r.mu.Unlock()
	tok := &heldToken{done: make(chan struct{})}
	r.pubs = append(r.pubs, recordedPub{topic, string(payload.([]byte)), tok})
	return tok
}

func (r *recordingClient) published() []recordedPub {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]recordedPub(nil), r.pubs...)
}

// waitPublished waits until n publishes were made (completions run on goroutines).
func (r *recordingClient) waitPublished(t *testing.T, n int) []recordedPub {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		p := r.published()
		if len(p) >= n {
			return p
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d publishes, want %d", len(p), n)
		}
		time.Sleep(time.Millisecond)
	}
}

func testFlow() (*ackFlow, *recordingClient) {
	c := &Consumer{topics: wire.Topics{Prefix: "tb"}}
	r := &recordingClient{}
	return newAckFlow(c, r), r
}

func TestAckFlowOneAckInFlightPerTill(t *testing.T) {
	f, r := testFlow()
	a := TillKey{"s1", "t1"}
	f.send(a, 1, nil)
	f.send(a, 2, nil)
	f.send(a, 3, nil)
	p := r.published()
	if len(p) != 1 || !strings.Contains(p[0].payload, `"through":1`) {
		t.Fatalf("publishes while the first is in flight: %+v", p)
	}
	p[0].tok.complete()
	p = r.waitPublished(t, 2)
	if !strings.Contains(p[1].payload, `"through":3`) {
		t.Fatalf("after the first completed: %q, want the newest ack (3), not 2", p[1].payload)
	}
	p[1].tok.complete()
	time.Sleep(20 * time.Millisecond)
	if p := r.published(); len(p) != 2 {
		t.Fatalf("%d publishes, want 2: nothing else was due", len(p))
	}
	if n, w := f.pending(); n != 0 || w != 0 {
		t.Fatalf("in flight %d, waiting %d after all completed", n, w)
	}
}

func TestAckFlowHeldGoesAheadOfItsAck(t *testing.T) {
	f, r := testFlow()
	a := TillKey{"s1", "t1"}
	f.send(a, 5, nil)
	// Due while the first is in flight: a held message through 7, then an ack through 7
	// without one (a later batch) must keep it; one through 8 replaces both.
	f.send(a, 7, &Held{Through: 7, From: 9, To: 12})
	f.send(a, 7, nil)
	r.published()[0].tok.complete()
	p := r.waitPublished(t, 3)
	if !strings.HasSuffix(p[1].topic, "/held") || !strings.Contains(p[1].payload, `"held_from":9`) ||
		!strings.HasSuffix(p[2].topic, "/ack") || !strings.Contains(p[2].payload, `"through":7`) {
		t.Fatalf("after the first ack: %+v, want the held message then the ack through 7", p[1:])
	}
	f.send(a, 8, nil)
	f.send(a, 9, &Held{Through: 9, From: 11, To: 11})
	f.send(a, 10, nil) // replaces the held one through 9: it would say what 10 no longer needs
	p[1].tok.complete()
	p[2].tok.complete()
	p = r.waitPublished(t, 4)
	time.Sleep(20 * time.Millisecond)
	p = r.published()
	if len(p) != 4 || !strings.HasSuffix(p[3].topic, "/ack") || !strings.Contains(p[3].payload, `"through":10`) {
		t.Fatalf("after the held ack: %+v, want only the ack through 10", p[3:])
	}
}

func TestAckFlowBoundsWhatIsInFlight(t *testing.T) {
	f, r := testFlow()
	const tills = maxAcksInFlight + 50
	for i := range tills {
		f.send(TillKey{"s", fmt.Sprint(i)}, 1, nil)
	}
	p := r.published()
	if len(p) != maxAcksInFlight {
		t.Fatalf("%d in flight, want the bound %d", len(p), maxAcksInFlight)
	}
	if _, w := f.pending(); w != 50 {
		t.Fatalf("%d waiting, want 50", w)
	}
	// A till whose ack waits for the bound gets a newer one: it goes once, the newest.
	f.send(TillKey{"s", fmt.Sprint(tills - 1)}, 2, nil)
	for _, q := range p[:50] {
		q.tok.complete()
	}
	p = r.waitPublished(t, tills)
	time.Sleep(20 * time.Millisecond)
	p = r.published()
	if len(p) != tills {
		t.Fatalf("%d publishes, want %d (each till once)", len(p), tills)
	}
	if last := p[len(p)-1]; !strings.Contains(last.topic, fmt.Sprintf("/%d/ack", tills-1)) || !strings.Contains(last.payload, `"through":2`) {
		t.Fatalf("last publish %+v, want till %d's ack through 2", last, tills-1)
	}
	// The bound is reached again (the 50 freed went to the 50 waiting): a till's ack
	// waits for it, and a newer one for the same till replaces it.
	a := TillKey{"s", "0"}
	f.send(a, 3, nil)
	f.send(a, 4, nil)
	if n, w := f.pending(); n != maxAcksInFlight || w != 1 {
		t.Fatalf("in flight %d, waiting %d; want %d and 1", n, w, maxAcksInFlight)
	}
	for _, q := range p[50:] {
		q.tok.complete()
	}
	p = r.waitPublished(t, tills+1)
	if got := p[len(p)-1]; !strings.Contains(got.topic, "/s/0/ack") || !strings.Contains(got.payload, `"through":4`) {
		t.Fatalf("last publish %+v, want till 0's ack through 4", got)
	}
}
