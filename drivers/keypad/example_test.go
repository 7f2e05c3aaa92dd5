package keypad_test

import (
	"fmt"

	"tillbox/drivers/evdev"
	"tillbox/drivers/keypad"
	"tillbox/drivers/keypad/keypadtest"
)

func Example() {
	// The config file maps a programmable POS keyboard's codes.
	m, err := keypad.ParseMap([]byte(`
KEY_F13 = CASH
KEY_F14 = SUBTOTAL
KEY_KP1 = 1
KEY_KP2 = 2
KEY_KPASTERISK = QTY
`))
	if err != nil {
		fmt.Println(err)
		return
	}
	// board would pass the grabbed /dev/input/eventN; the fake keyboard behaves the same.
	fake, port := keypadtest.Pipe(evdev.Native, m)
	defer port.Close()
	dev, err := keypad.New(port, &keypad.Opts{Name: "keypad event3", Map: m})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer dev.Halt()
	go fake.Press(keypad.Key2, keypad.KeyQty, keypad.Key1, keypad.KeySubtotal, keypad.KeyCash)
	for ev := range dev.Events() {
		if ev.Kind != keypad.EventPress {
			continue
		}
		fmt.Println(ev.Press.Key, "from", evdev.KeyName(ev.Press.Code))
		if ev.Press.Key == keypad.KeyCash {
			return
		}
	}
	// Output:
	// 2 from KEY_KP2
	// QTY from KEY_KPASTERISK
	// 1 from KEY_KP1
	// SUBTOTAL from KEY_F14
	// CASH from KEY_F13
}
