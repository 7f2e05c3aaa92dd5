package evdev

import "fmt"

// usKeys is the US layout: the character each key types without and with shift. A wedge
// scanner is programmed for this layout, whatever the host uses. Keypad keys type the
// same with or without shift and NumLock because scanners in "keypad emulation" send them
// without caring about either.
var usKeys = map[uint16][2]byte{
	Key1: {'1', '!'}, Key2: {'2', '@'}, Key3: {'3', '#'}, Key4: {'4', '$'}, Key5: {'5', '%'},
	Key6: {'6', '^'}, Key7: {'7', '&'}, Key8: {'8', '*'}, Key9: {'9', '('}, Key0: {'0', ')'},
	KeyMinus: {'-', '_'}, KeyEqual: {'=', '+'},
	KeyQ: {'q', 'Q'}, KeyW: {'w', 'W'}, KeyE: {'e', 'E'}, KeyR: {'r', 'R'}, KeyT: {'t', 'T'},
	KeyY: {'y', 'Y'}, KeyU: {'u', 'U'}, KeyI: {'i', 'I'}, KeyO: {'o', 'O'}, KeyP: {'p', 'P'},
	KeyLeftBrace: {'[', '{'}, KeyRightBrace: {']', '}'},
	KeyA: {'a', 'A'}, KeyS: {'s', 'S'}, KeyD: {'d', 'D'}, KeyF: {'f', 'F'}, KeyG: {'g', 'G'},
	KeyH: {'h', 'H'}, KeyJ: {'j', 'J'}, KeyK: {'k', 'K'}, KeyL: {'l', 'L'},
	KeySemicolon: {';', ':'}, KeyApostrophe: {'\'', '"'}, KeyGrave: {'`', '~'},
	KeyBackslash: {'\\', '|'},
	KeyZ:         {'z', 'Z'}, KeyX: {'x', 'X'}, KeyC: {'c', 'C'}, KeyV: {'v', 'V'}, KeyB: {'b', 'B'},
	KeyN: {'n', 'N'}, KeyM: {'m', 'M'},
	KeyComma: {',', '<'}, KeyDot: {'.', '>'}, KeySlash: {'/', '?'}, KeySpace: {' ', ' '},
	KeyTab: {'\t', '\t'}, KeyEnter: {'\r', '\r'}, KeyKPEnter: {'\r', '\r'}, KeyEsc: {0x1b, 0x1b},
	KeyKP0: {'0', '0'}, KeyKP1: {'1', '1'}, KeyKP2: {'2', '2'}, KeyKP3: {'3', '3'},
	KeyKP4: {'4', '4'}, KeyKP5: {'5', '5'}, KeyKP6: {'6', '6'}, KeyKP7: {'7', '7'},
	KeyKP8: {'8', '8'}, KeyKP9: {'9', '9'},
	KeyKPDot: {'.', '.'}, KeyKPSlash: {'/', '/'}, KeyKPAsterisk: {'*', '*'},
	KeyKPMinus: {'-', '-'}, KeyKPPlus: {'+', '+'},
}

type stroke struct {
	code  uint16
	shift bool
}

// typeKeys is the reverse of usKeys for Type; main-block keys win over keypad keys
// because that is what a scanner sends unless told to emulate a keypad.
var typeKeys = func() map[byte]stroke {
	m := make(map[byte]stroke)
	for code, cs := range usKeys {
		for i, c := range cs {
			s := stroke{code: code, shift: i == 1}
			old, seen := m[c]
			switch {
			case !seen:
				m[c] = s
			case isKeypad(old.code) && !isKeypad(code):
				m[c] = s
			case old.code == code && old.shift && !s.shift:
				m[c] = s
			}
		}
	}
	return m
}()

// isLock tells the lock keys, which some scanners tap to learn the host's caps lock state
// and which type nothing.
func isLock(code uint16) bool {
	return code == KeyCapsLock || code == KeyNumLock || code == KeyScrollLock
}

func isKeypad(code uint16) bool {
	switch code {
	case KeyKP0, KeyKP1, KeyKP2, KeyKP3, KeyKP4, KeyKP5, KeyKP6, KeyKP7, KeyKP8, KeyKP9,
		KeyKPDot, KeyKPSlash, KeyKPAsterisk, KeyKPMinus, KeyKPPlus, KeyKPEnter:
		return true
	}
	return false
}

// Keyboard follows the modifier state of one keyboard and turns its key presses into the
// ASCII a US keyboard types. The zero value is ready to use.
//
// Control characters are typed as Ctrl+key, which is how wedge scanners send the GS1
// separator (GS, 0x1d, Ctrl+]) and other codes below 0x20.
type Keyboard struct {
	shift, ctrl, alt uint8 // bit 0 left, bit 1 right
}

// Feed takes one event. pressed reports that a key other than a modifier went down; c is
// then the character it types, or 0 if it types none (a function key, an Alt chord).
// Releases, autorepeats, modifiers, lock keys and non-key events give pressed == false. A SYN_DROPPED
// gives pressed == true and c == 0, since a key of the sequence was lost, and forgets the
// modifiers, whose releases may be among the lost events.
func (k *Keyboard) Feed(e Event) (c byte, pressed bool) {
	if e.Type == EvSyn && e.Code == SynDropped {
		*k = Keyboard{}
		return 0, true
	}
	if e.Type != EvKey {
		return 0, false
	}
	if m, bit := k.modifier(e.Code); m != nil {
		switch e.Value {
		case Press:
			*m |= bit
		case Release:
			*m &^= bit
		}
		return 0, false
	}
	if e.Value != Press || isLock(e.Code) {
		return 0, false
	}
	cs, ok := usKeys[e.Code]
	if !ok || k.alt != 0 {
		return 0, true
	}
	c = cs[0]
	if k.shift != 0 {
		c = cs[1]
	}
	if k.ctrl != 0 {
		switch {
		case c >= '@' && c <= '_':
			c &= 0x1f
		case c >= 'a' && c <= 'z':
			c &= 0x1f
		default:
			c = 0
		}
	}
	return c, true
}

func (k *Keyboard) modifier(code uint16) (*uint8, uint8) {
	switch code {
	case KeyLeftShift:
		return &k.shift, 1
	case KeyRightShift:
		return &k.shift, 2
	case KeyLeftCtrl:
		return &k.ctrl, 1
	case KeyRightCtrl:
		return &k.ctrl, 2
	case KeyLeftAlt:
		return &k.alt, 1
	case KeyRightAlt:
		return &k.alt, 2
	}
	return nil, 0
}

// Type returns the events a wedge scanner sends to type s on a US keyboard: for each
// character, shift (and ctrl for control characters) down, the key down and up, the
// modifiers up, each group closed by a SYN_REPORT. Timestamps are left zero; fakes that
// care set them. '\r' is Enter, '\t' is Tab, other bytes below 0x20 are Ctrl chords;
// NUL cannot be typed, since Feed uses 0 for a key that types nothing.
func Type(s string) ([]Event, error) {
	var evs []Event
	for i := 0; i < len(s); i++ {
		c := s[i]
		st, ctrl, ok := strokeFor(c)
		if !ok {
			return nil, fmt.Errorf("evdev: type %q: byte %d (%#x): %w", s, i, c, ErrNoKey)
		}
		evs = append(evs, chord(st, ctrl)...)
	}
	return evs, nil
}

func strokeFor(c byte) (st stroke, ctrl, ok bool) {
	if st, ok = typeKeys[c]; ok {
		return st, false, true
	}
	if c == 0 {
		return stroke{}, false, false // Feed reports 0 as "typed nothing"
	}
	if c < 0x20 {
		base := c | 0x40 // @ [ \ ] ^ _
		if c >= 1 && c <= 26 {
			base = c | 0x60 // a..z: Ctrl+letter, no shift
		}
		st, ok = typeKeys[base]
		return st, true, ok
	}
	return stroke{}, false, false
}

// KeyStroke returns the events of one press and release of code: down, SYN, up, SYN.
func KeyStroke(code uint16) []Event {
	return []Event{
		{Type: EvKey, Code: code, Value: Press}, {Type: EvSyn, Code: SynReport},
		{Type: EvKey, Code: code, Value: Release}, {Type: EvSyn, Code: SynReport},
	}
}

func chord(st stroke, ctrl bool) []Event {
	var evs []Event
	down := func(code uint16) {
		evs = append(evs, Event{Type: EvKey, Code: code, Value: Press}, Event{Type: EvSyn, Code: SynReport})
	}
	up := func(code uint16) {
		evs = append(evs, Event{Type: EvKey, Code: code, Value: Release}, Event{Type: EvSyn, Code: SynReport})
	}
	if ctrl {
		down(KeyLeftCtrl)
	}
	if st.shift {
		down(KeyLeftShift)
	}
	down(st.code)
	up(st.code)
	if st.shift {
		up(KeyLeftShift)
	}
	if ctrl {
		up(KeyLeftCtrl)
	}
	return evs
}
