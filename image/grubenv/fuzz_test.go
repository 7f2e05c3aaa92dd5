package grubenv

import (
	"bytes"
	"errors"
	"maps"
	"strings"
	"testing"
)

// block is header + body, padded with '#' to Size.
func block(body string) []byte {
	b := []byte(header + body)
	return append(b, bytes.Repeat([]byte{'#'}, Size-len(b))...)
}

// TestDecodeRefusesWhatCannotBeWrittenBack: a variable without a name, or without the
// newline that ends it, is refused.
func TestDecodeRefusesWhatCannotBeWrittenBack(t *testing.T) {
	full := header + "k=" + strings.Repeat("v", Size-len(header)-2)
	for name, b := range map[string][]byte{
		"empty name":                   block("=A\n"),
		"empty name, no text":          block("=\n"),
		"no newline":                   []byte(full),
		"no newline after a good line": []byte(header + "a=b\n" + "k=" + strings.Repeat("v", Size-len(header)-6)),
	} {
		if len(b) != Size {
			t.Fatalf("%s: %d bytes", name, len(b))
		}
		if e, err := Decode(b); !errors.Is(err, ErrFormat) {
			t.Errorf("%s: %q, %v; want ErrFormat", name, e, err)
		}
	}
	// The largest block that does fit: its one variable ends with a newline at the end.
	b := []byte(header + "k=" + strings.Repeat("v", Size-len(header)-3) + "\n")
	if e, err := Decode(b); err != nil || len(e["k"]) != Size-len(header)-3 {
		t.Fatalf("full block: %d bytes of value, %v", len(e["k"]), err)
	}
	if again, err := Encode(Env{"k": strings.Repeat("v", Size-len(header)-3)}); err != nil || !bytes.Equal(again, b) {
		t.Fatalf("full block encoded again: %v", err)
	}
}

// FuzzDecode: a block either decodes, and then encodes back to a block that decodes to the
// same variables, or is refused with ErrFormat. A block GRUB or the firmware could not
// write back unchanged is refused when read, not when the next update rewrites it.
func FuzzDecode(f *testing.F) {
	for _, e := range []Env{
		{},
		{"tillbox_active": "A", "tillbox_active_version": "1.4.2"},
		{"tillbox_active": "A", "tillbox_next": "B", "tillbox_next_version": "1.5.0", "tillbox_try": "1", "tillbox_failed": "1.4.9"},
		{"k": string(bytes.Repeat([]byte("v"), Size-len(header)-3))},
	} {
		b, err := Encode(e)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(header))
	f.Add(block("=A\n"))
	f.Add(block("tillbox_active=A\ntillbox_try=1"))
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := Decode(b)
		if err != nil {
			if !errors.Is(err, ErrFormat) {
				t.Fatalf("error %v does not wrap ErrFormat", err)
			}
			return
		}
		again, err := Encode(e)
		if err != nil {
			t.Fatalf("decoded %q, which does not encode: %v", e, err)
		}
		e2, err := Decode(again)
		if err != nil {
			t.Fatalf("re-encoded block refused: %v", err)
		}
		if !maps.Equal(e, e2) {
			t.Fatalf("variables changed on re-encoding:\nfirst %q\nagain %q", e, e2)
		}
	})
}
