package hq

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"tillbox/ledger/journal"
	"tillbox/uplink/wire"
)

type fakeDelivery struct{ topic string }

func (d fakeDelivery) Topic() string   { return d.topic }
func (d fakeDelivery) Payload() []byte { return nil }
func (d fakeDelivery) Retained() bool  { return false }
func (d fakeDelivery) Ack()            {}

// TestHoldEarly: an entry that does not continue its till's chain from the watermark
// this process committed (or from the batch's entries before it) is held back until it
// does, or for holdFor, and then goes whatever it follows; everything else goes at once,
// in order.
func TestHoldEarly(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	// in is an entry of till s1/till; held: held back since that long before now.
	in := func(till string, seq uint64, held time.Duration) inbound {
		im := inbound{m: fakeDelivery{"tillbox/v1/s1/" + till + "/tx"},
			in: &Incoming{Tx: wire.Tx{Entry: journal.Entry{Store: "s1", Till: till, Seq: seq}}}}
		if held > 0 {
			im.heldSince = now.Add(-held)
		}
		return im
	}
	names := func(ims []inbound) []string {
		var out []string
		for _, im := range ims {
			s := "quarantine"
			if im.in != nil {
				s = fmt.Sprintf("%s:%d", im.in.Tx.Entry.Till, im.in.Tx.Entry.Seq)
				if !im.heldSince.IsZero() {
					s += "*"
				}
			}
			out = append(out, s)
		}
		return out
	}
	cases := []struct {
		name       string
		batch      []inbound
		go_, early []string
	}{
		{"in order", []inbound{in("a", 5, 0), in("a", 6, 0), in("b", 1, 0)}, []string{"a:5", "a:6", "b:1"}, nil},
		{"reordered within the batch", []inbound{in("a", 7, 0), in("a", 5, 0), in("a", 6, 0)}, []string{"a:7", "a:5", "a:6"}, nil},
		{"a gap", []inbound{in("a", 5, 0), in("a", 7, 0), in("a", 8, 0), in("b", 2, 0)}, []string{"a:5"}, []string{"a:7*", "a:8*", "b:2*"}},
		{"resends go", []inbound{in("a", 3, 0), in("a", 4, 0)}, []string{"a:3", "a:4"}, nil},
		{"held, the gap closes", []inbound{in("a", 6, 50*time.Millisecond), in("a", 5, 0)}, []string{"a:6*", "a:5"}, nil},
		{"held a while, still a gap", []inbound{in("a", 7, 50*time.Millisecond), in("a", 8, 0)}, nil, []string{"a:7*", "a:8*"}},
		{"held for holdFor goes, and what follows it", []inbound{in("a", 7, holdFor), in("a", 8, 0), in("a", 10, 0)}, []string{"a:7*", "a:8"}, []string{"a:10*"}},
		{"quarantine records go", []inbound{{m: fakeDelivery{"x"}}, in("b", 3, 0)}, []string{"quarantine"}, []string{"b:3*"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := &Consumer{o: Options{BatchMax: 1000}, acked: map[TillKey]uint64{{"s1", "a"}: 4}}
			kept, early := c.holdEarly(slices.Clone(tc.batch), nil, now)
			if got := names(kept); !slices.Equal(got, tc.go_) {
				t.Errorf("goes %v, want %v", got, tc.go_)
			}
			if got := names(early); !slices.Equal(got, tc.early) {
				t.Errorf("held %v, want %v", got, tc.early)
			}
		})
	}
}
