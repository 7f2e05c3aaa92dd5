package evdev

import (
	"bytes"
	"errors"
	"io"
	"testing"
)

// FuzzDecode feeds arbitrary bytes to the decoder in both layouts. Any bytes must decode
// without a panic, re-encode to themselves, and a Reader must account for every byte:
// whole records as events, a tail as ErrShortEvent.
func FuzzDecode(f *testing.F) {
	seed := func(l Layout, s string) {
		evs, _ := Type(s)
		b, _ := Encode(l, evs...)
		f.Add(b)
	}
	seed(Layout64, "5901234123457\r")
	seed(Layout32, "A\x1d1")
	f.Add([]byte{})
	f.Add(bytes.Repeat([]byte{0xff}, 23))
	f.Add(bytes.Repeat([]byte{0x00}, 48))
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, l := range []Layout{Layout32, Layout64} {
			n := len(b) / int(l)
			for i := 0; i < n; i++ {
				rec := b[i*int(l) : (i+1)*int(l)]
				e, err := Decode(rec, l)
				if err != nil {
					t.Fatalf("%v: Decode of a whole record: %v", l, err)
				}
				back, err := Encode(l, e)
				if err != nil || !bytes.Equal(back, rec) {
					t.Fatalf("%v: Encode(Decode(% x)) = % x, %v", l, rec, back, err)
				}
				var k Keyboard
				k.Feed(e)
			}
			r, _ := NewReader(bytes.NewReader(b), l)
			got := 0
			for {
				_, err := r.ReadEvent()
				if err == io.EOF {
					if len(b)%int(l) != 0 {
						t.Fatalf("%v: clean EOF with a %d-byte tail", l, len(b)%int(l))
					}
					break
				}
				if errors.Is(err, ErrShortEvent) {
					if len(b)%int(l) == 0 {
						t.Fatalf("%v: short event on whole records", l)
					}
					break
				}
				if err != nil {
					t.Fatalf("%v: %v", l, err)
				}
				got++
			}
			if got != n {
				t.Fatalf("%v: Reader read %d events, want %d", l, got, n)
			}
		}
	})
}
