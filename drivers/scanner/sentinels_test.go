package scanner_test

import (
	"errors"
	"strings"
	"testing"

	"tillbox/drivers"
	"tillbox/drivers/scanner"
)

func TestErrorsMatchTheDriversSentinels(t *testing.T) {
	t.Run("invalid options", func(t *testing.T) {
		_, port := pipe(t, scanner.SuffixCR)
		if _, err := scanner.New(port, &scanner.Opts{PartialTimeout: -1}); !errors.Is(err, drivers.ErrInvalidOpts) || !strings.HasPrefix(err.Error(), "scanner: ") {
			t.Errorf("New with a negative timeout = %v, want scanner: ... wrapping drivers.ErrInvalidOpts", err)
		}
	})
	t.Run("halted", func(t *testing.T) {
		_, port := pipe(t, scanner.SuffixCR)
		d := newDev(t, port, nil)
		must(t, d.Halt())
		_, port2 := pipe(t, scanner.SuffixCR)
		if err := d.Reattach(port2); !errors.Is(err, drivers.ErrHalted) || !strings.HasPrefix(err.Error(), "scanner: ") {
			t.Errorf("Reattach after Halt = %v, want scanner: ... wrapping drivers.ErrHalted", err)
		}
	})
}
