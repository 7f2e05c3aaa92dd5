package keypad

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"tillbox/drivers/evdev"
)

// Map says which POS key each evdev key code is. Several codes may give the same key (the
// top-row 5 and the keypad 5).
type Map map[uint16]Key

// DefaultMap returns the mapping for a standard PC keyboard used as a till keyboard:
// digits on the top row and the keypad, the keypad's operators for the arithmetic-like
// keys, and the function keys for the rest.
//
//	0-9, KP0-9        digits          KP/            00
//	. , KP.           DECIMAL         KP* X          QTY
//	Enter, KPEnter    ENTER           Esc Backspace  CLEAR
//	KP+               SUBTOTAL        KP- Delete     VOID
//	F1 SIGN_ON_OFF  F2 PLU  F3 VOID  F4 SUBTOTAL  F5 CASH  F6 CARD
//	F7 NO_SALE  F8 PARK  F9 RETURN  F10 MENU  F12 SYNC
func DefaultMap() Map {
	m := Map{
		evdev.KeyKPSlash: Key00,
		evdev.KeyDot:     KeyDecimal, evdev.KeyComma: KeyDecimal, evdev.KeyKPDot: KeyDecimal,
		evdev.KeyKPComma:    KeyDecimal,
		evdev.KeyKPAsterisk: KeyQty, evdev.KeyX: KeyQty,
		evdev.KeyEnter: KeyEnter, evdev.KeyKPEnter: KeyEnter,
		evdev.KeyEsc: KeyClear, evdev.KeyBackspace: KeyClear,
		evdev.KeyKPPlus:  KeySubtotal,
		evdev.KeyKPMinus: KeyVoid, evdev.KeyDelete: KeyVoid,
		evdev.KeyF1: KeySignOnOff, evdev.KeyF2: KeyPLU, evdev.KeyF3: KeyVoid,
		evdev.KeyF4: KeySubtotal, evdev.KeyF5: KeyCash, evdev.KeyF6: KeyCard,
		evdev.KeyF7: KeyNoSale, evdev.KeyF8: KeyPark, evdev.KeyF9: KeyReturn,
		evdev.KeyF10: KeyMenu, evdev.KeyF12: KeySync,
	}
	top := []uint16{evdev.Key0, evdev.Key1, evdev.Key2, evdev.Key3, evdev.Key4, evdev.Key5,
		evdev.Key6, evdev.Key7, evdev.Key8, evdev.Key9}
	pad := []uint16{evdev.KeyKP0, evdev.KeyKP1, evdev.KeyKP2, evdev.KeyKP3, evdev.KeyKP4,
		evdev.KeyKP5, evdev.KeyKP6, evdev.KeyKP7, evdev.KeyKP8, evdev.KeyKP9}
	for i := range top {
		m[top[i]] = Key0 + Key(i)
		m[pad[i]] = Key0 + Key(i)
	}
	return m
}

// Codes returns the codes that give k, lowest first.
func (m Map) Codes(k Key) []uint16 {
	var cs []uint16
	for c, v := range m {
		if v == k {
			cs = append(cs, c)
		}
	}
	slices.Sort(cs)
	return cs
}

// ParseMap reads a mapping as the config file holds it, either as text:
//
//	# key code (kernel name or number) = POS key
//	KEY_F5 = CASH
//	KEY_KP0 = 0
//	183 = SYNC
//
// or as a JSON object of the same pairs: {"KEY_F5": "CASH", "183": "SYNC"}. A code given
// twice is an error, since one of the two lines would be silently ignored.
func ParseMap(b []byte) (Map, error) {
	t := bytes.TrimSpace(b)
	if len(t) > 0 && t[0] == '{' {
		var m Map
		if err := json.Unmarshal(t, &m); err != nil {
			return nil, fmt.Errorf("keypad: parse map: %w", err)
		}
		return m, nil
	}
	m := Map{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		name, key, ok := strings.Cut(line, "=")
		if !ok {
			return nil, fmt.Errorf("keypad: parse map: line %d: %w: want CODE = KEY, got %q", n, ErrMap, line)
		}
		if err := m.add(name, key); err != nil {
			return nil, fmt.Errorf("keypad: parse map: line %d: %w", n, err)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("keypad: parse map: %w", err)
	}
	return m, nil
}

func (m Map) add(name, key string) error {
	code, ok := evdev.KeyCode(name)
	if !ok {
		return fmt.Errorf("%w: unknown key code %q", ErrMap, strings.TrimSpace(name))
	}
	k, err := ParseKey(key)
	if err != nil {
		return err
	}
	if old, dup := m[code]; dup {
		return fmt.Errorf("%w: %s mapped twice (%v and %v)", ErrMap, evdev.KeyName(code), old, k)
	}
	m[code] = k
	return nil
}

// MarshalText writes m in the text form ParseMap reads, one line per code in code order.
func (m Map) MarshalText() ([]byte, error) {
	var b bytes.Buffer
	for _, c := range m.sortedCodes() {
		if _, err := m[c].MarshalText(); err != nil {
			return nil, err
		}
		fmt.Fprintf(&b, "%s = %s\n", evdev.KeyName(c), m[c])
	}
	return b.Bytes(), nil
}

// MarshalJSON writes m as a JSON object of kernel key names to POS key names.
func (m Map) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, c := range m.sortedCodes() {
		if _, err := m[c].MarshalText(); err != nil {
			return nil, err
		}
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "%q:%q", evdev.KeyName(c), m[c].String())
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// UnmarshalJSON reads what MarshalJSON writes.
func (m *Map) UnmarshalJSON(b []byte) error {
	var raw map[string]string
	if err := json.Unmarshal(b, &raw); err != nil {
		return fmt.Errorf("keypad: map: %w: %w", ErrMap, err)
	}
	out := Map{}
	names := make([]string, 0, len(raw))
	for n := range raw {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		if err := out.add(n, raw[n]); err != nil {
			return fmt.Errorf("keypad: map: %w", err)
		}
	}
	*m = out
	return nil
}

func (m Map) sortedCodes() []uint16 {
	cs := make([]uint16, 0, len(m))
	for c := range m {
		cs = append(cs, c)
	}
	slices.Sort(cs)
	return cs
}
