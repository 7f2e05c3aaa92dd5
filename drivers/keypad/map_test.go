package keypad

import (
	"encoding/json"
	"errors"
	"maps"
	"testing"

	"tillbox/drivers/evdev"
)

func TestDefaultMapHasEveryPOSKey(t *testing.T) {
	m := DefaultMap()
	for k := Key0; k < numKeys; k++ {
		if len(m.Codes(k)) == 0 {
			t.Errorf("no key of a PC keyboard gives %v", k)
		}
	}
	if m[evdev.KeyKP7] != Key7 || m[evdev.Key7] != Key7 || m[evdev.KeyF5] != KeyCash {
		t.Errorf("default map: KP7=%v 7=%v F5=%v", m[evdev.KeyKP7], m[evdev.Key7], m[evdev.KeyF5])
	}
}

func TestParseMapTextAndJSON(t *testing.T) {
	text := `
# A programmable POS keyboard sending F13-F24 for its function keys.
KEY_F13 = CASH
key_f14=card          # case and spacing do not matter
KEY_F15 = No Sale
KEY_F16 = SIGN ON/OFF
KEY_KP0 = 0
KEY_KPDOT = .
250 = SYNC            # a code with no kernel name here
`
	want := Map{evdev.KeyF13: KeyCash, evdev.KeyF14: KeyCard, evdev.KeyF15: KeyNoSale,
		evdev.KeyF16: KeySignOnOff, evdev.KeyKP0: Key0, evdev.KeyKPDot: KeyDecimal, 250: KeySync}
	got, err := ParseMap([]byte(text))
	if err != nil {
		t.Fatal(err)
	}
	if !maps.Equal(got, want) {
		t.Fatalf("text: got %v, want %v", got, want)
	}
	js := `{"KEY_F13":"CASH","KEY_F14":"card","KEY_F15":"NO_SALE","KEY_F16":"SIGN_ON_OFF","KEY_KP0":"0","KEY_KPDOT":"DECIMAL","250":"SYNC"}`
	got, err = ParseMap([]byte(js))
	if err != nil {
		t.Fatal(err)
	}
	if !maps.Equal(got, want) {
		t.Fatalf("JSON: got %v, want %v", got, want)
	}
}

func TestMapRoundTripsThroughTextAndJSON(t *testing.T) {
	m := DefaultMap()
	txt, err := m.MarshalText()
	if err != nil {
		t.Fatal(err)
	}
	back, err := ParseMap(txt)
	if err != nil || !maps.Equal(back, m) {
		t.Fatalf("text round trip: %v\n%s", err, txt)
	}
	// As a field of the config file.
	type config struct {
		Keypad Map `json:"keypad"`
	}
	js, err := json.Marshal(config{Keypad: m})
	if err != nil {
		t.Fatal(err)
	}
	var c config
	if err := json.Unmarshal(js, &c); err != nil || !maps.Equal(c.Keypad, m) {
		t.Fatalf("JSON round trip: %v\n%s", err, js)
	}
}

func TestParseMapErrors(t *testing.T) {
	for name, in := range map[string]string{
		"unknown kernel name":     "KEY_NOPE = CASH",
		"unknown POS key":         "KEY_F1 = DISCOUNT",
		"no equals sign":          "KEY_F1 CASH",
		"code given twice":        "KEY_F1 = CASH\nKEY_F1 = CARD",
		"name and number clash":   `{"KEY_F1":"CASH","59":"CARD"}`,
		"JSON of the wrong shape": `{"KEY_F1": 3}`,
		"NONE is not a POS key":   "KEY_F1 = NONE",
		"code out of range":       "70000 = CASH",
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := ParseMap([]byte(in)); !errors.Is(err, ErrMap) {
				t.Fatalf("err = %v, want ErrMap", err)
			}
		})
	}
}

func TestParseKeyNamesAndAliases(t *testing.T) {
	for in, want := range map[string]Key{"cash": KeyCash, "No-Sale": KeyNoSale, "sign on": KeySignOnOff,
		"00": Key00, "7": Key7, "point": KeyDecimal, "SUBTOTAL": KeySubtotal, "plu": KeyPLU} {
		if got, err := ParseKey(in); err != nil || got != want {
			t.Errorf("ParseKey(%q) = %v, %v, want %v", in, got, err, want)
		}
	}
	for k := Key0; k < numKeys; k++ {
		if got, err := ParseKey(k.String()); err != nil || got != k {
			t.Errorf("ParseKey(%v.String()) = %v, %v", k, got, err)
		}
	}
	if d, ok := Key9.Digit(); !ok || d != 9 {
		t.Errorf("Key9.Digit() = %d, %v", d, ok)
	}
	if _, ok := KeyCash.Digit(); ok {
		t.Error("CASH is a digit")
	}
}
