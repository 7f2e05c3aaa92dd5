package evdev

import "testing"

func typeAll(t *testing.T, evs []Event) (string, int) {
	t.Helper()
	var k Keyboard
	var out []byte
	presses := 0
	for _, e := range evs {
		if c, pressed := k.Feed(e); pressed {
			presses++
			out = append(out, c)
		}
	}
	return string(out), presses
}

func TestTypeThenFeedRoundTripsEveryCharacter(t *testing.T) {
	var s []byte
	for c := 0x20; c < 0x7f; c++ {
		s = append(s, byte(c))
	}
	s = append(s, '\r', '\t', 0x1d, 0x1b, '\n', 0x01, 0x1f)
	evs, err := Type(string(s))
	if err != nil {
		t.Fatal(err)
	}
	got, presses := typeAll(t, evs)
	if got != string(s) {
		t.Fatalf("round trip:\n got %q\nwant %q", got, s)
	}
	if presses != len(s) {
		t.Fatalf("%d presses for %d characters", presses, len(s))
	}
}

func TestTypeRejectsBytesNoKeyTypes(t *testing.T) {
	for _, s := range []string{"\x7f", "\x80", "zł", "\x00"} {
		if _, err := Type(s); err == nil {
			t.Errorf("Type(%q) succeeded", s)
		}
	}
}

func press(code uint16) Event   { return Event{Type: EvKey, Code: code, Value: Press} }
func release(code uint16) Event { return Event{Type: EvKey, Code: code, Value: Release} }

func TestKeyboardFollowsScancodesNotTheHostLayout(t *testing.T) {
	tests := []struct {
		name string
		evs  []Event
		want string
	}{
		// On a German host layout KEY_Y types 'z'; the scanner meant 'y'.
		{"KEY_Y is y", []Event{press(KeyY), release(KeyY)}, "y"},
		{"right shift makes capitals", []Event{press(KeyRightShift), press(KeyZ), release(KeyZ), release(KeyRightShift), press(KeyZ)}, "Zz"},
		{"shift held by both hands stays until both are up", []Event{
			press(KeyLeftShift), press(KeyRightShift), release(KeyLeftShift), press(Key2), release(KeyRightShift), press(Key2)}, "@2"},
		{"caps lock does not change what a scanner typed", []Event{press(KeyCapsLock), release(KeyCapsLock), press(KeyA)}, "a"},
		{"autorepeat and release type nothing", []Event{press(Key5), {Type: EvKey, Code: Key5, Value: Repeat}, release(Key5)}, "5"},
		{"keypad digits and enter", []Event{press(KeyKP7), press(KeyKPDot), press(KeyKPEnter)}, "7.\r"},
		{"ctrl ] is the GS1 separator", []Event{press(KeyLeftCtrl), press(KeyRightBrace), release(KeyLeftCtrl), press(KeyRightBrace)}, "\x1d]"},
		{"MSC_SCAN and SYN are not keys", []Event{{Type: EvMsc, Code: MscScan, Value: 0x7001e}, press(Key1), {Type: EvSyn}}, "1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, _ := typeAll(t, tt.evs)
			if got != tt.want {
				t.Fatalf("typed %q, want %q", got, tt.want)
			}
		})
	}
}

func TestKeyboardMarksKeysWithoutCharactersAndLostEvents(t *testing.T) {
	var k Keyboard
	if c, pressed := k.Feed(press(KeyF5)); !pressed || c != 0 {
		t.Fatalf("F5: c=%#x pressed=%v, want a press typing nothing", c, pressed)
	}
	k.Feed(press(KeyLeftAlt))
	if c, pressed := k.Feed(press(KeyKP6)); !pressed || c != 0 {
		t.Fatalf("Alt+KP6: c=%#x pressed=%v, want nothing typed", c, pressed)
	}
	k.Feed(release(KeyLeftAlt))
	k.Feed(press(KeyLeftShift))
	// The shift release was among the dropped events: forget it rather than type capitals.
	if c, pressed := k.Feed(Event{Type: EvSyn, Code: SynDropped}); !pressed || c != 0 {
		t.Fatalf("SYN_DROPPED: c=%#x pressed=%v", c, pressed)
	}
	if c, _ := k.Feed(press(KeyA)); c != 'a' {
		t.Fatalf("after SYN_DROPPED typed %q, want 'a'", c)
	}
}
