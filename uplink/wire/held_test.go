package wire_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
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
	signed := wire.HeldPayload(priv, "s042", "t03", wire.Holding{Through: 120, From: 122, To: 200})
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
	// The count and the map too: each forgery below is a valid held message unsigned.
	mapped := wire.HeldPayload(priv, "s042", "t03", wire.Holding{Through: 120, From: 122, To: 200, Count: 3,
		Map: wire.HeldMapOf(122, 200, []uint64{122, 150, 200})})
	ma, err := wire.DecodeSignedAckMessage(mapped, pub, "s042", "t03")
	if err != nil {
		t.Fatal(err)
	}
	if h, ok := ma.Holding(); !ok || h.Count != 3 || h.Map == nil {
		t.Fatalf("signed count and map: %+v", h)
	}
	for name, forge := range map[string]func(m map[string]any){
		"held_count and held_map": func(m map[string]any) {
			m["held_count"], m["held_map"] = 2, base64.RawURLEncoding.EncodeToString(wire.HeldMapOf(122, 200, []uint64{122, 200}))
		},
		"held_map dropped":             func(m map[string]any) { delete(m, "held_map") },
		"held_count and held_map gone": func(m map[string]any) { delete(m, "held_map"); delete(m, "held_count") },
		"held_count of all":            func(m map[string]any) { delete(m, "held_map"); m["held_count"] = 79 },
	} {
		var m map[string]any
		if err := json.Unmarshal(mapped, &m); err != nil {
			t.Fatal(err)
		}
		forge(m)
		forged, _ := json.Marshal(m)
		if _, err := wire.DecodeAckMessage(forged); err != nil {
			t.Fatalf("%s: the forgery %s does not decode: %v", name, forged, err)
		}
		if _, err := wire.DecodeSignedAckMessage(forged, pub, "s042", "t03"); !errors.Is(err, wire.ErrSignature) {
			t.Errorf("%s changed under the signature: %v, want ErrSignature", name, err)
		}
	}
	if _, err := wire.DecodeSignedAckMessage(signed, pub, "s042", "t04"); !errors.Is(err, wire.ErrIdentity) {
		t.Errorf("another till's held message: %v, want ErrIdentity", err)
	}
	if _, err := wire.DecodeSignedAckMessage(wire.HeldPayload(nil, "s042", "t03", wire.Holding{Through: 120, From: 122, To: 200}), pub, "s042", "t03"); !errors.Is(err, wire.ErrSignature) {
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
	if got := string(wire.HeldPayload(nil, "", "", wire.Holding{Through: 7})); got != `{"v":1,"through":7,"held_from":0,"held_to":0}` {
		t.Fatalf("held bytes %s", got)
	}
	if !strings.Contains(string(signed), `"held_from":122,"held_to":200,"store"`) {
		t.Fatalf("signed held bytes %s", signed)
	}
	if !strings.Contains(string(mapped), `"held_from":122,"held_to":200,"held_count":3,"held_map":"`) {
		t.Fatalf("signed held bytes %s", mapped)
	}
	if got := string(wire.HeldPayload(nil, "", "", wire.Holding{Through: 7, Count: 3})); got != `{"v":1,"through":7,"held_from":0,"held_to":0}` {
		t.Fatalf("held bytes for nothing held, counted: %s", got)
	}
}

// TestHeldCount: a held message's count and map of what HQ holds within its range, and
// the hostile ones refused.
func TestHeldCount(t *testing.T) {
	const maxSeq = uint64(wire.MaxSeq)
	wide := `"through":5,"held_from":7,"held_to":` + strconv.FormatUint(7+wire.MaxHeldMap, 10)
	for _, c := range []struct {
		name string
		body string
		want error
	}{
		{"all held", `"through":5,"held_from":7,"held_to":9,"held_count":3`, nil},
		{"one of three missing", `"through":5,"held_from":7,"held_to":9,"held_count":2`, nil},
		{"one held, counted", `"through":5,"held_from":7,"held_to":7,"held_count":1`, nil},
		{"nothing held, counted 0", `"through":5,"held_from":0,"held_to":0,"held_count":0`, nil},
		{"the widest range", `"through":5,"held_from":7,"held_to":` + strconv.FormatUint(maxSeq, 10) + `,"held_count":` + strconv.FormatUint(maxSeq-6, 10), nil},
		{"a map", `"through":5,"held_from":7,"held_to":9,"held_count":2,"held_map":"BQ"`, nil},
		{"a full map", `"through":5,"held_from":7,"held_to":9,"held_count":3,"held_map":"Bw"`, nil},
		{"more than the range", `"through":5,"held_from":7,"held_to":9,"held_count":4`, wire.ErrInvalid},
		{"held_to not counted", `"through":5,"held_from":7,"held_to":9,"held_count":1`, wire.ErrInvalid},
		{"counted 0", `"through":5,"held_from":7,"held_to":9,"held_count":0`, wire.ErrInvalid},
		{"counted above the widest range", `"through":5,"held_from":7,"held_to":` + strconv.FormatUint(maxSeq, 10) + `,"held_count":` + strconv.FormatUint(maxSeq, 10), wire.ErrInvalid},
		{"a count at 2^64", `"through":5,"held_from":7,"held_to":9,"held_count":` + twoTo64, wire.ErrInvalid},
		{"a negative count", `"through":5,"held_from":7,"held_to":9,"held_count":-2`, wire.ErrInvalid},
		{"a fractional count", `"through":5,"held_from":7,"held_to":9,"held_count":2.5`, wire.ErrInvalid},
		{"a count as a string", `"through":5,"held_from":7,"held_to":9,"held_count":"2"`, wire.ErrInvalid},
		{"nothing held, counted 1", `"through":5,"held_from":0,"held_to":0,"held_count":1`, wire.ErrInvalid},
		{"a count without a range", `"through":5,"held_count":2`, wire.ErrInvalid},
		{"a map without a range", `"through":5,"held_map":"BQ"`, wire.ErrInvalid},
		{"a map without a count", `"through":5,"held_from":7,"held_to":9,"held_map":"BQ"`, wire.ErrInvalid},
		{"a map with nothing held", `"through":5,"held_from":0,"held_to":0,"held_count":0,"held_map":"BQ"`, wire.ErrInvalid},
		{"a map against its count", `"through":5,"held_from":7,"held_to":9,"held_count":3,"held_map":"BQ"`, wire.ErrInvalid},
		{"a map without held_from", `"through":5,"held_from":7,"held_to":9,"held_count":2,"held_map":"Bg"`, wire.ErrInvalid},
		{"a map without held_to", `"through":5,"held_from":7,"held_to":9,"held_count":2,"held_map":"Aw"`, wire.ErrInvalid},
		{"a map above held_to", `"through":5,"held_from":7,"held_to":9,"held_count":3,"held_map":"DQ"`, wire.ErrInvalid},
		{"a map too long", `"through":5,"held_from":7,"held_to":9,"held_count":2,"held_map":"BQA"`, wire.ErrInvalid},
		{"a map padded", `"through":5,"held_from":7,"held_to":9,"held_count":2,"held_map":"BQ=="`, wire.ErrInvalid},
		{"a map with stray bits", `"through":5,"held_from":7,"held_to":9,"held_count":2,"held_map":"BR"`, wire.ErrInvalid},
		{"a map in standard base64", `"through":5,"held_from":7,"held_to":22,"held_count":2,"held_map":"+/"`, wire.ErrInvalid},
		{"a map not base64", `"through":5,"held_from":7,"held_to":9,"held_count":2,"held_map":"!!"`, wire.ErrInvalid},
		{"a map as a number", `"through":5,"held_from":7,"held_to":9,"held_count":2,"held_map":5`, wire.ErrInvalid},
		{"a map of too wide a range", wide + `,"held_count":2,"held_map":"` + strings.Repeat("A", 1366) + `"`, wire.ErrInvalid},
		{"too wide a range, counted", wide + `,"held_count":2`, nil},
	} {
		_, err := wire.DecodeAckMessage([]byte(`{"v":1,` + c.body + `}`))
		if !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
	}
}

// TestHeldLacks: what a till reads from a held message about each entry above its
// watermark, with a count, a map, and neither (an HQ that does not say).
func TestHeldLacks(t *testing.T) {
	// Through 5; 7, 9 and 12 held of 7-12.
	seqs := []uint64{7, 9, 12}
	full := wire.Holding{Through: 5, From: 7, To: 12, Count: 6}
	mapped := wire.Holding{Through: 5, From: 7, To: 12, Count: 3, Map: wire.HeldMapOf(7, 12, seqs)}
	counted := wire.Holding{Through: 5, From: 7, To: 12, Count: 3}
	old := wire.Holding{Through: 5, From: 7, To: 12}
	for _, h := range []wire.Holding{full, mapped, counted, old} {
		a, err := wire.DecodeAckMessage(wire.HeldPayload(nil, "", "", h))
		if err != nil {
			t.Fatalf("%+v: %v", h, err)
		}
		got, ok := a.Holding()
		if !ok || got.From != h.From || got.To != h.To || got.Count != h.Count || !bytes.Equal(got.Map, h.Map) {
			t.Fatalf("%+v decoded as %+v", h, got)
		}
	}
	type say struct{ lacks, said bool }
	for _, c := range []struct {
		name string
		h    wire.Holding
		want map[uint64]say
	}{
		{"complete", full, map[uint64]say{5: {false, true}, 6: {true, true}, 7: {false, true}, 8: {false, true}, 12: {false, true}, 13: {true, true}}},
		{"mapped", mapped, map[uint64]say{6: {true, true}, 7: {false, true}, 8: {true, true}, 9: {false, true}, 10: {true, true}, 11: {true, true}, 12: {false, true}, 13: {true, true}}},
		{"counted", counted, map[uint64]say{6: {true, true}, 7: {false, false}, 8: {false, false}, 12: {false, false}, 13: {true, true}}},
		{"old", old, map[uint64]say{6: {true, true}, 8: {false, false}, 13: {true, true}}},
		{"nothing", wire.Holding{Through: 5}, map[uint64]say{5: {false, true}, 6: {true, true}, 100: {true, true}}},
	} {
		for seq, w := range c.want {
			if lacks, said := c.h.Lacks(seq); lacks != w.lacks || said != w.said {
				t.Errorf("%s: seq %d lacks %v said %v, want %v %v", c.name, seq, lacks, said, w.lacks, w.said)
			}
		}
	}
	// The README's example.
	a, err := wire.DecodeAckMessage([]byte(`{"v":1,"through":120,"held_from":122,"held_to":130,"held_count":7,"held_map":"ewE"}`))
	if err != nil {
		t.Fatal(err)
	}
	h, _ := a.Holding()
	var lacking []uint64
	for seq := uint64(120); seq <= 131; seq++ {
		if lacks, said := h.Lacks(seq); !said {
			t.Fatalf("the README's example does not say about %d", seq)
		} else if lacks {
			lacking = append(lacking, seq)
		}
	}
	if fmt.Sprint(lacking) != "[121 124 129 131]" {
		t.Errorf("the README's example lacks %v", lacking)
	}
	if m := wire.HeldMapOf(7, 7+wire.MaxHeldMap, seqs); m != nil {
		t.Errorf("a map of %d entries: %x", wire.MaxHeldMap+1, m)
	}
	if m := wire.HeldMapOf(7, 6+wire.MaxHeldMap, []uint64{7, 6 + wire.MaxHeldMap}); len(m) != wire.MaxHeldMap/8 || m[0] != 1 || m[len(m)-1] != 0x80 {
		t.Errorf("a map of %d entries: %d bytes", wire.MaxHeldMap, len(m))
	}
}
