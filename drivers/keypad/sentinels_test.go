package keypad_test

import (
	"errors"
	"strings"
	"testing"

	"tillbox/drivers"
	"tillbox/drivers/evdev"
	"tillbox/drivers/keypad"
	"tillbox/drivers/keypad/keypadtest"
)

func TestErrorsMatchTheDriversSentinels(t *testing.T) {
	t.Run("invalid options", func(t *testing.T) {
		_, port := keypadtest.Pipe(evdev.Native, keypad.DefaultMap())
		t.Cleanup(func() { port.Close() })
		if _, err := keypad.New(port, &keypad.Opts{Map: keypad.Map{}}); !errors.Is(err, drivers.ErrInvalidOpts) || !strings.HasPrefix(err.Error(), "keypad: ") {
			t.Errorf("New with an empty map = %v, want keypad: ... wrapping drivers.ErrInvalidOpts", err)
		}
	})
	t.Run("halted", func(t *testing.T) {
		r := newRig(t, nil, evdev.Native)
		must(t, r.dev.Halt())
		_, port := keypadtest.Pipe(evdev.Native, keypad.DefaultMap())
		t.Cleanup(func() { port.Close() })
		if err := r.dev.Reattach(port); !errors.Is(err, drivers.ErrHalted) || !strings.HasPrefix(err.Error(), "keypad: ") {
			t.Errorf("Reattach after Halt = %v, want keypad: ... wrapping drivers.ErrHalted", err)
		}
	})
}
