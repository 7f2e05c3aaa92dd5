package update

import (
	"errors"
	"testing"

	"tillbox/image/grubenv"
)

// FuzzBootState reads any block as the boot state: it is refused (ErrState, or the
// block's own grubenv.ErrFormat), or it is a state whose slots hold (one active slot, a
// next slot that is the other one or none) and that, written back, reads as the same
// state; a state too large to write back is refused with grubenv.ErrTooLarge, never
// written half.
func FuzzBootState(f *testing.F) {
	for _, st := range []State{
		{Active: SlotA, ActiveVersion: "1.4.2"},
		{Active: SlotA, ActiveVersion: "1.4.2", Next: SlotB, NextVersion: "1.5.0", Try: true},
		{Active: SlotB, ActiveVersion: "1.5.0", Failed: "1.5.1"},
	} {
		b, err := grubenv.Encode(st.env())
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := grubenv.Decode(b)
		if err != nil {
			return // FuzzDecode in grubenv covers the block itself
		}
		st, err := stateOf(e)
		if err != nil {
			if !errors.Is(err, ErrState) {
				t.Fatalf("error %v does not wrap ErrState", err)
			}
			return
		}
		if !validSlot(st.Active) || st.Next != "" && st.Next != Other(st.Active) {
			t.Fatalf("accepted a state whose slots do not hold: %+v", st)
		}
		again, err := grubenv.Encode(st.env())
		if err != nil {
			if !errors.Is(err, grubenv.ErrTooLarge) {
				t.Fatalf("state %+v does not encode: %v", st, err)
			}
			return
		}
		e2, err := grubenv.Decode(again)
		if err != nil {
			t.Fatalf("written state does not read: %v", err)
		}
		st2, err := stateOf(e2)
		if err != nil || st2 != st {
			t.Fatalf("state changed on writing back:\nfirst %+v\nagain %+v (%v)", st, st2, err)
		}
	})
}
