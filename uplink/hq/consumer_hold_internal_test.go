package hq

import (
	"fmt"
	"slices"
	"testing"

	"tillbox/ledger/journal"
	"tillbox/uplink/wire"
)

type fakeDelivery struct{ topic string }

func (d fakeDelivery) Topic() string   { return d.topic }
func (d fakeDelivery) Payload() []byte { return nil }
func (d fakeDelivery) Retained() bool  { return false }
func (d fakeDelivery) Ack()            {}

// TestHoldEarly: an entry that does not continue its till's chain from the watermark
// this process committed (or from the batch's entries before it) is held back once and
// goes with the next batch whatever it follows; everything else goes at once, in order.
func TestHoldEarly(t *testing.T) {
	in := func(till string, seq uint64, held bool) inbound {
		return inbound{m: fakeDelivery{"tillbox/v1/s1/" + till + "/tx"}, held: held,
			in: &Incoming{Tx: wire.Tx{Entry: journal.Entry{Store: "s1", Till: till, Seq: seq}}}}
	}
	names := func(ims []inbound) []string {
		var out []string
		for _, im := range ims {
			s := "quarantine"
			if im.in != nil {
				s = fmt.Sprintf("%s:%d", im.in.Tx.Entry.Till, im.in.Tx.Entry.Seq)
				if im.held {
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
		{"in order", []inbound{in("a", 5, false), in("a", 6, false), in("b", 1, false)}, []string{"a:5", "a:6", "b:1"}, nil},
		{"reordered within the batch", []inbound{in("a", 7, false), in("a", 5, false), in("a", 6, false)}, []string{"a:7", "a:5", "a:6"}, nil},
		{"a gap", []inbound{in("a", 5, false), in("a", 7, false), in("a", 8, false), in("b", 2, false)}, []string{"a:5"}, []string{"a:7*", "a:8*", "b:2*"}},
		{"resends go", []inbound{in("a", 3, false), in("a", 4, false)}, []string{"a:3", "a:4"}, nil},
		{"held once goes, and what follows it", []inbound{in("a", 7, true), in("a", 8, false), in("a", 10, false)}, []string{"a:7*", "a:8"}, []string{"a:10*"}},
		{"quarantine records go", []inbound{{m: fakeDelivery{"x"}}, in("b", 3, false)}, []string{"quarantine"}, []string{"b:3*"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := &Consumer{acked: map[TillKey]uint64{{"s1", "a"}: 4}}
			kept, early := c.holdEarly(slices.Clone(tc.batch), nil)
			if got := names(kept); !slices.Equal(got, tc.go_) {
				t.Errorf("goes %v, want %v", got, tc.go_)
			}
			if got := names(early); !slices.Equal(got, tc.early) {
				t.Errorf("held %v, want %v", got, tc.early)
			}
		})
	}
}
