package scanner

import (
	"bytes"
	"testing"
)

func TestIdleSleepBacksOffOnEmptyReads(t *testing.T) {
	if idleSleep(1) != 0 {
		t.Error("the first empty reads should not sleep: a read timeout already waited")
	}
	prev := idleSleep(3)
	if prev <= 0 {
		t.Fatal("repeated empty reads do not sleep: the reader would spin")
	}
	for n := 4; n < 1000; n++ {
		d := idleSleep(n)
		if d < prev || d > idleCap {
			t.Fatalf("idleSleep(%d) = %v after %v", n, d, prev)
		}
		prev = d
	}
}

// FuzzFrame cuts arbitrary bytes, arbitrarily chunked, into lines and parses them as the
// driver does: no line is longer than MaxLine, none holds its suffix, and every scan meets
// FuzzParse's invariants.
func FuzzFrame(f *testing.F) {
	f.Add([]byte("5901234123457\r\n96385074\r"), uint8(3), uint8(0))
	f.Add([]byte("\x00\xffAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA5901234123457\r"), uint8(7), uint8(3))
	f.Add([]byte("590123\t4123457\t"), uint8(1), uint8(3))
	f.Fuzz(func(t *testing.T, in []byte, chunk, suffix uint8) {
		o := Opts{Suffix: Suffix(suffix % 5), MaxLine: 40}
		op := o.withDefaults()
		all := bytes.Clone(in)
		fr := framer{suffix: op.Suffix, max: op.MaxLine}
		out := func(raw []byte, r Reason) {
			if len(raw) > op.MaxLine {
				t.Fatalf("line of %d bytes, MaxLine %d", len(raw), op.MaxLine)
			}
			for _, c := range raw {
				if fr.isEnd(c) {
					t.Fatalf("line %q holds its suffix", raw)
				}
			}
			if !bytes.Contains(all, raw) {
				t.Fatalf("line %q is not in the input", raw)
			}
			if r == ReasonNone {
				checkScan(t, raw, &o, parse(raw, &op))
			}
		}
		n := int(chunk%16) + 1
		for len(in) > 0 {
			k := min(n, len(in))
			fr.feed(in[:k], out)
			in = in[k:]
		}
		fr.silence(out)
		if fr.pending() {
			t.Fatal("bytes pending after silence")
		}
	})
}
