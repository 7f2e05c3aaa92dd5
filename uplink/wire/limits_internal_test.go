package wire

import (
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"

	"tillbox/ledger/journal"
)

// TestValidReceiptIsReceiptNumber: validReceipt accepts exactly what journal.ReceiptNumber
// writes for a number 1 to seq, and nothing else.
func TestValidReceiptIsReceiptNumber(t *testing.T) {
	nums := []uint64{0, 1, 2, 9, 999_999, 1_000_000, 1_000_001, math.MaxInt64 - 1, math.MaxInt64,
		math.MaxInt64 + 1, math.MaxUint64 - 1, math.MaxUint64}
	for _, p := range []string{"S042-T03", "A", "X-Y-Z", "SHOP 1"} {
		for _, n := range nums {
			for _, seq := range nums {
				if seq == 0 || seq > MaxSeq {
					continue
				}
				r := journal.ReceiptNumber(p, n)
				if got, want := validReceipt(r, seq), n >= 1 && n <= seq; got != want {
					t.Errorf("validReceipt(%q, %d) = %v, want %v", r, seq, got, want)
				}
			}
		}
	}
	rng := rand.New(rand.NewPCG(5, 6))
	const alphabet = "0123456789-S+ x"
	accepted := 0
	for range 200_000 {
		var b strings.Builder
		for n := rng.IntN(14); n > 0; n-- {
			b.WriteByte(alphabet[rng.IntN(len(alphabet))])
		}
		r := b.String()
		seq := rng.Uint64N(2_000_000) + 1
		if !validReceipt(r, seq) {
			continue
		}
		accepted++
		cut := strings.LastIndexByte(r, '-')
		n, err := strconv.ParseUint(r[cut+1:], 10, 64)
		if err != nil || cut < 1 || journal.ReceiptNumber(r[:cut], n) != r || n < 1 || n > seq {
			t.Fatalf("validReceipt(%q, %d) accepted what ReceiptNumber does not write for 1-%d", r, seq, seq)
		}
	}
	if accepted == 0 {
		t.Fatal("no random receipt was accepted: the test checks nothing")
	}
}
