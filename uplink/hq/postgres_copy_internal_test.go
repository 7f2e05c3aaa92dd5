package hq

import (
	"encoding/binary"
	"testing"
)

// TestCopyCentral: the central number COPY writes is CentralNumber's.
func TestCopyCentral(t *testing.T) {
	for _, c := range []struct {
		store string
		n     uint64
	}{{"s001", 0}, {"s001", 1}, {"a-b9", 123456789}, {"x", 999999999}, {"x", 1000000000}, {"s0", 18446744073709551615}} {
		var b copyBuf
		b.central(c.store, c.n)
		want := CentralNumber(c.store, c.n)
		if got := string(b.b[4:]); got != want || int(binary.BigEndian.Uint32(b.b)) != len(want) {
			t.Errorf("central(%q, %d) = %q (length %d), want %q", c.store, c.n, got, binary.BigEndian.Uint32(b.b), want)
		}
	}
}
