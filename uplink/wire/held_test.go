package wire_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"testing"

	"tillbox/uplink/wire"
)

// TestHeldLimits: a held message's range at the integer extremes, with its watermark.
func TestHeldLimits(t *testing.T) {
	const maxSeq = uint64(wire.MaxSeq)
	for _, c := range []struct {
		name     string
		body     string
		from, to uint64
		want     error
	}{
		{"a gap of one", `"through":5,"held_from":7,"held_to":9`, 7, 9, nil},
		{"one held", `"through":5,"held_from":7,"held_to":7`, 7, 7, nil},
		{"nothing held", `"through":5,"held_from":0,"held_to":0`, 0, 0, nil},
		{"nothing held at 0", `"through":0,"held_from":0,"held_to":0`, 0, 0, nil},
		{"nothing held at MaxSeq", `"through":` + strconv.FormatUint(maxSeq, 10) + `,"held_from":0,"held_to":0`, 0, 0, nil},
		{"held at MaxSeq", `"through":` + strconv.FormatUint(maxSeq-2, 10) + `,"held_from":` + strconv.FormatUint(maxSeq, 10) + `,"held_to":` + strconv.FormatUint(maxSeq, 10), maxSeq, maxSeq, nil},
		{"held right above the watermark", `"through":5,"held_from":6,"held_to":9`, 0, 0, wire.ErrInvalid},
		{"held at the watermark", `"through":5,"held_from":5,"held_to":9`, 0, 0, wire.ErrInvalid},
		{"held from above to", `"through":5,"held_from":9,"held_to":8`, 0, 0, wire.ErrInvalid},
		{"from 0 to 9", `"through":5,"held_from":0,"held_to":9`, 0, 0, wire.ErrInvalid},
		{"above a watermark of MaxSeq", `"through":` + strconv.FormatUint(maxSeq, 10) + `,"held_from":` + strconv.FormatUint(maxSeq, 10) + `,"held_to":` + strconv.FormatUint(maxSeq, 10), 0, 0, wire.ErrInvalid},
		{"to above MaxSeq", `"through":5,"held_from":7,"held_to":` + maxInt64p1, 0, 0, wire.ErrInvalid},
		{"to at 2^64-1", `"through":5,"held_from":7,"held_to":` + maxUint64, 0, 0, wire.ErrInvalid},
		{"to at 2^64", `"through":5,"held_from":7,"held_to":` + twoTo64, 0, 0, wire.ErrInvalid},
		{"from above MaxSeq", `"through":5,"held_from":` + maxInt64p1 + `,"held_to":` + maxInt64p1, 0, 0, wire.ErrInvalid},
		{"negative", `"through":5,"held_from":-7,"held_to":9`, 0, 0, wire.ErrInvalid},
		{"a fraction", `"through":5,"held_from":7.5,"held_to":9`, 0, 0, wire.ErrInvalid},
		{"from alone", `"through":5,"held_from":7`, 0, 0, wire.ErrInvalid},
		{"to alone", `"through":5,"held_to":7`, 0, 0, wire.ErrInvalid},
		{"null", `"through":5,"held_from":null,"held_to":null`, 0, 0, nil},
	} {
		a, err := wire.DecodeAckMessage([]byte(`{"v":1,` + c.body + `}`))
		if !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
			continue
		}
		if err != nil {
			continue
		}
		from, to, ok := a.Held()
		if c.name == "null" {
			if ok {
				t.Errorf("%s: held %d-%d, want none", c.name, from, to)
			}
			continue
		}
		if !ok || from != c.from || to != c.to {
			t.Errorf("%s: held %d-%d (%v), want %d-%d", c.name, from, to, ok, c.from, c.to)
		}
	}
}

// TestHeldSigned: the signature of a held message covers its range; an ack keeps its
// bytes and its signature, and a held message is still an ack of its watermark for a
// till that reads it as one.
func TestHeldSigned(t *testing.T) {
	pub, priv := testKey(t, 1)
	signed := wire.HeldPayload(priv, "s042", "t03", 120, 122, 200)
	a, err := wire.DecodeSignedAckMessage(signed, pub, "s042", "t03")
	if err != nil {
		t.Fatal(err)
	}
	if from, to, ok := a.Held(); !ok || from != 122 || to != 200 || *a.Through != 120 {
		t.Fatalf("held %d-%d %v through %d", from, to, ok, *a.Through)
	}
	if n, err := wire.DecodeSignedAck(signed, pub, "s042", "t03"); err != nil || n != 120 {
		t.Fatalf("held message as an ack: %d, %v", n, err)
	}
	for _, field := range []string{"held_from", "held_to"} {
		var m map[string]any
		if err := json.Unmarshal(signed, &m); err != nil {
			t.Fatal(err)
		}
		m[field] = 150
		forged, _ := json.Marshal(m)
		if _, err := wire.DecodeSignedAckMessage(forged, pub, "s042", "t03"); !errors.Is(err, wire.ErrSignature) {
			t.Errorf("%s changed under the signature: %v, want ErrSignature", field, err)
		}
	}
	if _, err := wire.DecodeSignedAckMessage(signed, pub, "s042", "t04"); !errors.Is(err, wire.ErrIdentity) {
		t.Errorf("another till's held message: %v, want ErrIdentity", err)
	}
	if _, err := wire.DecodeSignedAckMessage(wire.HeldPayload(nil, "s042", "t03", 120, 122, 200), pub, "s042", "t03"); !errors.Is(err, wire.ErrSignature) {
		t.Errorf("unsigned held message: %v, want ErrSignature", err)
	}
	// The acks of the ack topic are what every till reads: no held range, the same
	// bytes and signature as before it existed.
	for _, key := range [][]byte{nil, priv} {
		p := wire.AckPayload(key, "s042", "t03", 77)
		if bytes.Contains(p, []byte("held")) {
			t.Fatalf("ack %s carries a held range", p)
		}
		a, err := wire.DecodeAckMessage(p)
		if err != nil {
			t.Fatal(err)
		}
		if _, _, ok := a.Held(); ok {
			t.Fatalf("ack %s decodes with a held range", p)
		}
	}
	if got := string(wire.EncodeAck(7)); got != `{"v":1,"through":7}` {
		t.Fatalf("ack bytes %s", got)
	}
	if got := string(wire.HeldPayload(nil, "", "", 7, 0, 0)); got != `{"v":1,"through":7,"held_from":0,"held_to":0}` {
		t.Fatalf("held bytes %s", got)
	}
	if !strings.Contains(string(signed), `"held_from":122,"held_to":200`) {
		t.Fatalf("signed held bytes %s", signed)
	}
}
