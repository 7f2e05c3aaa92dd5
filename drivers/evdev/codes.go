package evdev

import (
	"strconv"
	"strings"
)

// Key codes of a PC keyboard (include/uapi/linux/input-event-codes.h). These are the
// positions of keys, not the characters printed on them: KeyZ is the key right of left
// shift on every layout.
const (
	KeyEsc        = 1
	Key1          = 2
	Key2          = 3
	Key3          = 4
	Key4          = 5
	Key5          = 6
	Key6          = 7
	Key7          = 8
	Key8          = 9
	Key9          = 10
	Key0          = 11
	KeyMinus      = 12
	KeyEqual      = 13
	KeyBackspace  = 14
	KeyTab        = 15
	KeyQ          = 16
	KeyW          = 17
	KeyE          = 18
	KeyR          = 19
	KeyT          = 20
	KeyY          = 21
	KeyU          = 22
	KeyI          = 23
	KeyO          = 24
	KeyP          = 25
	KeyLeftBrace  = 26
	KeyRightBrace = 27
	KeyEnter      = 28
	KeyLeftCtrl   = 29
	KeyA          = 30
	KeyS          = 31
	KeyD          = 32
	KeyF          = 33
	KeyG          = 34
	KeyH          = 35
	KeyJ          = 36
	KeyK          = 37
	KeyL          = 38
	KeySemicolon  = 39
	KeyApostrophe = 40
	KeyGrave      = 41
	KeyLeftShift  = 42
	KeyBackslash  = 43
	KeyZ          = 44
	KeyX          = 45
	KeyC          = 46
	KeyV          = 47
	KeyB          = 48
	KeyN          = 49
	KeyM          = 50
	KeyComma      = 51
	KeyDot        = 52
	KeySlash      = 53
	KeyRightShift = 54
	KeyKPAsterisk = 55
	KeyLeftAlt    = 56
	KeySpace      = 57
	KeyCapsLock   = 58
	KeyF1         = 59
	KeyF2         = 60
	KeyF3         = 61
	KeyF4         = 62
	KeyF5         = 63
	KeyF6         = 64
	KeyF7         = 65
	KeyF8         = 66
	KeyF9         = 67
	KeyF10        = 68
	KeyNumLock    = 69
	KeyScrollLock = 70
	KeyKP7        = 71
	KeyKP8        = 72
	KeyKP9        = 73
	KeyKPMinus    = 74
	KeyKP4        = 75
	KeyKP5        = 76
	KeyKP6        = 77
	KeyKPPlus     = 78
	KeyKP1        = 79
	KeyKP2        = 80
	KeyKP3        = 81
	KeyKP0        = 82
	KeyKPDot      = 83
	Key102nd      = 86
	KeyF11        = 87
	KeyF12        = 88
	KeyKPEnter    = 96
	KeyRightCtrl  = 97
	KeyKPSlash    = 98
	KeySysRq      = 99
	KeyRightAlt   = 100
	KeyHome       = 102
	KeyUp         = 103
	KeyPageUp     = 104
	KeyLeft       = 105
	KeyRight      = 106
	KeyEnd        = 107
	KeyDown       = 108
	KeyPageDown   = 109
	KeyInsert     = 110
	KeyDelete     = 111
	KeyKPEqual    = 117
	KeyPause      = 119
	KeyKPComma    = 121
	KeyLeftMeta   = 125
	KeyRightMeta  = 126
	KeyF13        = 183
	KeyF14        = 184
	KeyF15        = 185
	KeyF16        = 186
	KeyF17        = 187
	KeyF18        = 188
	KeyF19        = 189
	KeyF20        = 190
	KeyF21        = 191
	KeyF22        = 192
	KeyF23        = 193
	KeyF24        = 194

	// KeyMax is the highest key code the kernel defines; codes above it are not keys.
	KeyMax = 0x2ff
)

// keyNames holds the kernel's names, so that a mapping in the config file reads the same
// as `evtest` output and the header file.
var keyNames = map[uint16]string{
	KeyEsc: "KEY_ESC", Key1: "KEY_1", Key2: "KEY_2", Key3: "KEY_3", Key4: "KEY_4",
	Key5: "KEY_5", Key6: "KEY_6", Key7: "KEY_7", Key8: "KEY_8", Key9: "KEY_9", Key0: "KEY_0",
	KeyMinus: "KEY_MINUS", KeyEqual: "KEY_EQUAL", KeyBackspace: "KEY_BACKSPACE",
	KeyTab: "KEY_TAB", KeyQ: "KEY_Q", KeyW: "KEY_W", KeyE: "KEY_E", KeyR: "KEY_R",
	KeyT: "KEY_T", KeyY: "KEY_Y", KeyU: "KEY_U", KeyI: "KEY_I", KeyO: "KEY_O", KeyP: "KEY_P",
	KeyLeftBrace: "KEY_LEFTBRACE", KeyRightBrace: "KEY_RIGHTBRACE", KeyEnter: "KEY_ENTER",
	KeyLeftCtrl: "KEY_LEFTCTRL", KeyA: "KEY_A", KeyS: "KEY_S", KeyD: "KEY_D", KeyF: "KEY_F",
	KeyG: "KEY_G", KeyH: "KEY_H", KeyJ: "KEY_J", KeyK: "KEY_K", KeyL: "KEY_L",
	KeySemicolon: "KEY_SEMICOLON", KeyApostrophe: "KEY_APOSTROPHE", KeyGrave: "KEY_GRAVE",
	KeyLeftShift: "KEY_LEFTSHIFT", KeyBackslash: "KEY_BACKSLASH", KeyZ: "KEY_Z",
	KeyX: "KEY_X", KeyC: "KEY_C", KeyV: "KEY_V", KeyB: "KEY_B", KeyN: "KEY_N", KeyM: "KEY_M",
	KeyComma: "KEY_COMMA", KeyDot: "KEY_DOT", KeySlash: "KEY_SLASH",
	KeyRightShift: "KEY_RIGHTSHIFT", KeyKPAsterisk: "KEY_KPASTERISK",
	KeyLeftAlt: "KEY_LEFTALT", KeySpace: "KEY_SPACE", KeyCapsLock: "KEY_CAPSLOCK",
	KeyF1: "KEY_F1", KeyF2: "KEY_F2", KeyF3: "KEY_F3", KeyF4: "KEY_F4", KeyF5: "KEY_F5",
	KeyF6: "KEY_F6", KeyF7: "KEY_F7", KeyF8: "KEY_F8", KeyF9: "KEY_F9", KeyF10: "KEY_F10",
	KeyNumLock: "KEY_NUMLOCK", KeyScrollLock: "KEY_SCROLLLOCK", KeyKP7: "KEY_KP7",
	KeyKP8: "KEY_KP8", KeyKP9: "KEY_KP9", KeyKPMinus: "KEY_KPMINUS", KeyKP4: "KEY_KP4",
	KeyKP5: "KEY_KP5", KeyKP6: "KEY_KP6", KeyKPPlus: "KEY_KPPLUS", KeyKP1: "KEY_KP1",
	KeyKP2: "KEY_KP2", KeyKP3: "KEY_KP3", KeyKP0: "KEY_KP0", KeyKPDot: "KEY_KPDOT",
	Key102nd: "KEY_102ND", KeyF11: "KEY_F11", KeyF12: "KEY_F12", KeyKPEnter: "KEY_KPENTER",
	KeyRightCtrl: "KEY_RIGHTCTRL", KeyKPSlash: "KEY_KPSLASH", KeySysRq: "KEY_SYSRQ",
	KeyRightAlt: "KEY_RIGHTALT", KeyHome: "KEY_HOME", KeyUp: "KEY_UP",
	KeyPageUp: "KEY_PAGEUP", KeyLeft: "KEY_LEFT", KeyRight: "KEY_RIGHT", KeyEnd: "KEY_END",
	KeyDown: "KEY_DOWN", KeyPageDown: "KEY_PAGEDOWN", KeyInsert: "KEY_INSERT",
	KeyDelete: "KEY_DELETE", KeyKPEqual: "KEY_KPEQUAL", KeyPause: "KEY_PAUSE",
	KeyKPComma: "KEY_KPCOMMA", KeyLeftMeta: "KEY_LEFTMETA", KeyRightMeta: "KEY_RIGHTMETA",
	KeyF13: "KEY_F13", KeyF14: "KEY_F14", KeyF15: "KEY_F15", KeyF16: "KEY_F16",
	KeyF17: "KEY_F17", KeyF18: "KEY_F18", KeyF19: "KEY_F19", KeyF20: "KEY_F20",
	KeyF21: "KEY_F21", KeyF22: "KEY_F22", KeyF23: "KEY_F23", KeyF24: "KEY_F24",
}

var keyCodes = func() map[string]uint16 {
	m := make(map[string]uint16, len(keyNames))
	for c, n := range keyNames {
		m[n] = c
	}
	return m
}()

// KeyName returns the kernel's name of a key code ("KEY_ENTER"), or its number for codes
// this package has no name for, which KeyCode reads back.
func KeyName(code uint16) string {
	if n, ok := keyNames[code]; ok {
		return n
	}
	return strconv.Itoa(int(code))
}

// KeyCode parses a key name as KeyName writes it: a kernel name ("KEY_F1", case does not
// matter) or a decimal code up to KeyMax, so that a keyboard sending codes this package
// has no name for can still be mapped.
func KeyCode(name string) (uint16, bool) {
	name = strings.TrimSpace(name)
	if c, ok := keyCodes[strings.ToUpper(name)]; ok {
		return c, true
	}
	n, err := strconv.ParseUint(name, 10, 16)
	if err != nil || n == 0 || n > KeyMax {
		return 0, false
	}
	return uint16(n), true
}
