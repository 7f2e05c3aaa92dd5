package clock

import (
	"errors"
	"testing"
	"time"
)

func TestDecodeDSKnown(t *testing.T) {
	for _, c := range []struct {
		name string
		r    [DSRegisters]byte
		want time.Time
	}{
		{"24h", [7]byte{0x45, 0x59, 0x23, 0x03, 0x31, 0x12, 0x24}, time.Date(2024, 12, 31, 23, 59, 45, 0, time.UTC)},
		{"12h pm", [7]byte{0x00, 0x30, 0x40 | 0x20 | 0x11, 0x01, 0x29, 0x02, 0x28}, time.Date(2028, 2, 29, 23, 30, 0, 0, time.UTC)},
		{"12h 12am", [7]byte{0x01, 0x00, 0x40 | 0x12, 0x01, 0x01, 0x01, 0x00}, time.Date(2000, 1, 1, 0, 0, 1, 0, time.UTC)},
		{"12h 12pm", [7]byte{0x01, 0x00, 0x40 | 0x20 | 0x12, 0x01, 0x01, 0x01, 0x00}, time.Date(2000, 1, 1, 12, 0, 1, 0, time.UTC)},
		{"century", [7]byte{0x00, 0x00, 0x00, 0x01, 0x01, 0x80 | 0x03, 0x05}, time.Date(2105, 3, 1, 0, 0, 0, 0, time.UTC)},
	} {
		got, err := DecodeDS(c.r)
		if err != nil || !got.Equal(c.want) {
			t.Errorf("%s: DecodeDS(% x) = %v, %v; want %v", c.name, c.r, got, err, c.want)
		}
	}
}

func TestDecodeDSRejects(t *testing.T) {
	for _, c := range []struct {
		name string
		r    [DSRegisters]byte
	}{
		{"not bcd", [7]byte{0x0a, 0, 0, 1, 1, 1, 0}},
		{"minute 60", [7]byte{0, 0x60, 0, 1, 1, 1, 0}},
		{"hour 24", [7]byte{0, 0, 0x24, 1, 1, 1, 0}},
		{"12h hour 0", [7]byte{0, 0, 0x40, 1, 1, 1, 0}},
		{"date 0", [7]byte{0, 0, 0, 1, 0, 1, 0}},
		{"month 13", [7]byte{0, 0, 0, 1, 1, 0x13, 0}},
		{"feb 30", [7]byte{0, 0, 0, 1, 0x30, 0x02, 0x24}},
		{"feb 29 not leap", [7]byte{0, 0, 0, 1, 0x29, 0x02, 0x23}},
		{"year not bcd", [7]byte{0, 0, 0, 1, 1, 1, 0xa0}},
	} {
		if got, err := DecodeDS(c.r); err == nil {
			t.Errorf("%s: DecodeDS(% x) = %v, want an error", c.name, c.r, got)
		}
	}
	if _, err := DecodeDS([7]byte{0x80, 0, 0, 1, 1, 1, 0}); !errors.Is(err, ErrHalted) {
		t.Errorf("halted oscillator: %v, want ErrHalted", err)
	}
}

func TestDSRoundTrip(t *testing.T) {
	start := time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := 0; i < 5000; i++ {
		// Steps of a prime number of seconds cover every field's digits within 2000-2199.
		want := start.Add(time.Duration(i) * 1262347 * time.Second)
		r, err := EncodeDS(want)
		if err != nil {
			t.Fatalf("EncodeDS(%v): %v", want, err)
		}
		if wd := int(r[3]); wd != int(want.Weekday())+1 {
			t.Fatalf("EncodeDS(%v): weekday register %d", want, wd)
		}
		got, err := DecodeDS(r)
		if err != nil || !got.Equal(want) {
			t.Fatalf("round trip of %v: % x decoded %v, %v", want, r, got, err)
		}
	}
	for _, y := range []int{1999, 2200} {
		if _, err := EncodeDS(time.Date(y, 1, 1, 0, 0, 0, 0, time.UTC)); err == nil {
			t.Errorf("EncodeDS in %d: no error", y)
		}
	}
}
