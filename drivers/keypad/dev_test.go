package keypad_test

import (
	"errors"
	"io"
	"testing"
	"time"

	"tillbox/drivers"
	"tillbox/drivers/evdev"
	"tillbox/drivers/keypad"
	"tillbox/drivers/keypad/keypadtest"
)

const guard = 10 * time.Second

type rig struct {
	dev  *keypad.Dev
	fake *keypadtest.Fake
	port io.ReadCloser
}

func newRig(t *testing.T, o *keypad.Opts, l evdev.Layout) *rig {
	t.Helper()
	m := keypad.DefaultMap()
	if o != nil && o.Map != nil {
		m = o.Map
	}
	fake, port := keypadtest.Pipe(l, m)
	t.Cleanup(func() { port.Close() })
	d, err := keypad.New(port, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Halt() })
	r := &rig{dev: d, fake: fake, port: port}
	r.expectState(t, drivers.Online)
	return r
}

func (r *rig) next(t *testing.T) keypad.Event {
	t.Helper()
	select {
	case ev, ok := <-r.dev.Events():
		if !ok {
			t.Fatal("events channel closed")
		}
		return ev
	case <-time.After(guard):
		t.Fatalf("no event within %v", guard)
	}
	panic("unreachable")
}

func (r *rig) expectKeys(t *testing.T, keys ...keypad.Key) []keypad.Press {
	t.Helper()
	var got []keypad.Press
	for _, k := range keys {
		ev := r.next(t)
		if ev.Kind != keypad.EventPress || ev.Press.Key != k {
			t.Fatalf("got %+v, want press of %v", ev, k)
		}
		got = append(got, ev.Press)
	}
	return got
}

func (r *rig) expectState(t *testing.T, st drivers.State) keypad.Status {
	t.Helper()
	ev := r.next(t)
	if ev.Kind != keypad.EventStatus || ev.Status.State != st {
		t.Fatalf("got %+v, want status %v", ev, st)
	}
	return ev.Status
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

var sale = []keypad.Key{keypad.KeySignOnOff, keypad.Key2, keypad.KeyQty, keypad.KeyPLU,
	keypad.Key1, keypad.Key0, keypad.Key4, keypad.KeyEnter, keypad.KeyVoid, keypad.KeySubtotal,
	keypad.Key5, keypad.Key00, keypad.KeyDecimal, keypad.KeyCash, keypad.KeyCard,
	keypad.KeyNoSale, keypad.KeyClear, keypad.KeyPark, keypad.KeyReturn, keypad.KeySync}

func TestDefaultMappingInBothEventLayouts(t *testing.T) {
	for _, l := range []evdev.Layout{evdev.Layout32, evdev.Layout64} {
		t.Run(l.String(), func(t *testing.T) {
			r := newRig(t, &keypad.Opts{Layout: l}, l)
			must(t, r.fake.Press(sale...))
			r.expectKeys(t, sale...)
			if st := r.dev.Status(); st.Presses != uint64(len(sale)) {
				t.Fatalf("status %+v after %d presses", st, len(sale))
			}
		})
	}
}

// The physical keys of the default map, as a person at a PC keyboard presses them.
func TestDefaultMappingPhysicalKeys(t *testing.T) {
	r := newRig(t, nil, evdev.Native)
	must(t, r.fake.Codes(evdev.KeyKP1, evdev.Key2, evdev.KeyKPAsterisk, evdev.KeyF5, evdev.KeyKPEnter, evdev.KeyEsc))
	r.expectKeys(t, keypad.Key1, keypad.Key2, keypad.KeyQty, keypad.KeyCash, keypad.KeyEnter, keypad.KeyClear)
}

func TestCustomMappingFromConfigText(t *testing.T) {
	m, err := keypad.ParseMap([]byte("KEY_F13 = CASH\nKEY_F14 = CARD\nKEY_A = 1\nKEY_B = VOID\n"))
	must(t, err)
	r := newRig(t, &keypad.Opts{Map: m}, evdev.Native)
	must(t, r.fake.Codes(evdev.KeyF13, evdev.KeyA, evdev.KeyF14, evdev.KeyB))
	r.expectKeys(t, keypad.KeyCash, keypad.Key1, keypad.KeyCard, keypad.KeyVoid)
	// F5 is CASH in the default map, not in this one.
	must(t, r.fake.Codes(evdev.KeyF5))
	p := r.expectKeys(t, keypad.KeyNone)
	if p[0].Code != evdev.KeyF5 {
		t.Fatalf("unmapped press reported code %d, want %d", p[0].Code, evdev.KeyF5)
	}
}

func TestHeldKeysRepeatOnlyWhenAllowed(t *testing.T) {
	r := newRig(t, &keypad.Opts{Repeat: []keypad.Key{keypad.KeyClear}}, evdev.Native)
	must(t, r.fake.Hold(keypad.KeyCash, 5))
	must(t, r.fake.Hold(keypad.KeyClear, 3))
	must(t, r.fake.HoldCode(evdev.KeyF20, 2)) // unmapped: its press is shown, repeats are not
	must(t, r.fake.Press(keypad.KeyEnter))
	r.expectKeys(t, keypad.KeyCash)
	ps := r.expectKeys(t, keypad.KeyClear, keypad.KeyClear, keypad.KeyClear, keypad.KeyClear)
	if ps[0].Repeat || !ps[1].Repeat || !ps[3].Repeat {
		t.Fatalf("repeat flags %v %v %v", ps[0].Repeat, ps[1].Repeat, ps[3].Repeat)
	}
	r.expectKeys(t, keypad.KeyNone, keypad.KeyEnter)
}

func TestKeyboardUnpluggedThenReattached(t *testing.T) {
	r := newRig(t, nil, evdev.Native)
	must(t, r.fake.Press(keypad.Key1))
	r.expectKeys(t, keypad.Key1)
	must(t, r.fake.Close())
	st := r.expectState(t, drivers.Offline)
	if !errors.Is(st.Err, io.EOF) {
		t.Fatalf("offline cause %v, want io.EOF", st.Err)
	}
	fake2, port2 := keypadtest.Pipe(evdev.Native, keypad.DefaultMap())
	t.Cleanup(func() { port2.Close() })
	must(t, r.dev.Reattach(port2))
	r.expectState(t, drivers.Online)
	if err := r.dev.Reattach(port2); !errors.Is(err, keypad.ErrAttached) {
		t.Fatalf("second Reattach: %v", err)
	}
	must(t, fake2.Press(keypad.KeyCard))
	r.expectKeys(t, keypad.KeyCard)
	must(t, r.dev.Halt())
	r.expectState(t, drivers.Halted)
	if _, ok := <-r.dev.Events(); ok {
		t.Fatal("event after Halt")
	}
	if err := r.dev.Reattach(port2); !errors.Is(err, keypad.ErrHalted) {
		t.Fatalf("Reattach after Halt: %v", err)
	}
}

func TestNewRejectsBadOpts(t *testing.T) {
	_, port := keypadtest.Pipe(evdev.Native, keypad.DefaultMap())
	t.Cleanup(func() { port.Close() })
	for name, o := range map[string]*keypad.Opts{
		"empty map":        {Map: keypad.Map{}},
		"key out of range": {Map: keypad.Map{evdev.KeyA: 200}},
		"bad layout":       {Layout: 20},
	} {
		if _, err := keypad.New(port, o); !errors.Is(err, keypad.ErrInvalidOpts) {
			t.Errorf("%s: %v, want ErrInvalidOpts", name, err)
		}
	}
	if _, err := keypad.New(nil, nil); !errors.Is(err, keypad.ErrNilPort) {
		t.Errorf("nil port: %v", err)
	}
}
