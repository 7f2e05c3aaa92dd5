package wire_test

import (
	"testing"

	"tillbox/uplink/wire"
)

// BenchmarkDecodeTx is the cost HQ pays per received entry: decode, canonical check, hash.
func BenchmarkDecodeTx(b *testing.B) {
	raw := sampleTx(b)
	topic := wire.Topic{Store: "s042", Till: "t03", Kind: wire.KindTx}
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := wire.DecodeTx(topic, raw); err != nil {
			b.Fatal(err)
		}
	}
}
