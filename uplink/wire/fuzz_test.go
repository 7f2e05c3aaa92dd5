package wire_test

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"tillbox/uplink/wire"
)

// One fuzz target per decoder of bytes that come from the broker, the same at the till and
// at HQ. Each checks the decoder's promise: no panic; an error wraps one of the sentinels
// of errors.go and names the package; a decoded value encodes to a payload that decodes
// to the same value (the same value: the same encoding), valid as the first was.

var sentinels = []error{wire.ErrTooLarge, wire.ErrNotJSON, wire.ErrVersion, wire.ErrMissing,
	wire.ErrIdentity, wire.ErrInvalid, wire.ErrSignature, wire.ErrTopic}

// checkErr fails t unless err wraps exactly one sentinel and starts "wire: ".
func checkErr(t *testing.T, what string, p []byte, err error) {
	t.Helper()
	n := 0
	for _, s := range sentinels {
		if errors.Is(err, s) {
			n++
		}
	}
	if n != 1 || !strings.HasPrefix(err.Error(), "wire: ") {
		t.Fatalf("%s: error %q wraps %d sentinels, want one, from the package\npayload %q", what, err, n, p)
	}
}

// sameEncoding fails t unless a and b encode to the same JSON.
func sameEncoding(t *testing.T, what string, a, b any) {
	t.Helper()
	ja, err := json.Marshal(a)
	if err != nil {
		t.Fatalf("%s: encode the decoded value: %v", what, err)
	}
	jb, err := json.Marshal(b)
	if err != nil {
		t.Fatalf("%s: encode the value decoded again: %v", what, err)
	}
	if !bytes.Equal(ja, jb) {
		t.Fatalf("%s: decoding the re-encoded value changed it:\nfirst %s\nagain %s", what, ja, jb)
	}
}

func fuzzKey(f *testing.F) (ed25519.PublicKey, ed25519.PrivateKey) {
	return testKey(f, 7)
}

func FuzzDecodeCatalog(f *testing.F) {
	pub, priv := fuzzKey(f)
	topic := wire.Topic{Store: "s042", Kind: wire.KindCatalog}
	good := validCatalog(f)
	p, err := wire.EncodeCatalog(good)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(p)
	if err := wire.SignCatalog(priv, &good); err != nil {
		f.Fatal(err)
	}
	p, err = wire.EncodeCatalog(good)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(p)
	f.Add([]byte(`{"v":1,"store":"s042","version":1,"currency":"PLN","taxes":[],"items":[],"cashiers":[]}`))
	f.Add([]byte(`{"v":1,"store":"s042","version":9223372036854775808,"currency":"PLN"}`))
	f.Add([]byte(`{"v":1,"store":"s043","version":1,"currency":"PLN"}`))
	f.Fuzz(func(t *testing.T, p []byte) {
		c, err := wire.DecodeCatalog(topic, p)
		if err != nil {
			checkErr(t, "catalog", p, err)
			return
		}
		if c.Store != topic.Store || c.Validate() != nil {
			t.Fatalf("accepted a catalog that does not hold: %+v", c)
		}
		again, err := wire.EncodeCatalog(*c)
		if err != nil {
			t.Fatalf("encode the decoded catalog: %v", err)
		}
		c2, err := wire.DecodeCatalog(topic, again)
		if err != nil {
			t.Fatalf("re-encoded catalog refused: %v\n%s", err, again)
		}
		sameEncoding(t, "catalog", c, c2)
		if v1, v2 := wire.VerifyCatalog(pub, c), wire.VerifyCatalog(pub, c2); (v1 == nil) != (v2 == nil) {
			t.Fatalf("signature verdict changed on re-encoding: %v, then %v", v1, v2)
		}
	})
}

func FuzzDecodeCmd(f *testing.F) {
	pub, priv := fuzzKey(f)
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	c := wire.Cmd{ID: "cmd-1", Name: wire.CmdUpdate, Args: json.RawMessage(`{"url":"https://hq/b.tbx","version":"1.5.0"}`)}
	p, err := wire.EncodeCmd(c)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(p)
	if err := wire.SignCmd(priv, &c, "s042", "t03", now.Add(time.Hour)); err != nil {
		f.Fatal(err)
	}
	if p, err = wire.EncodeCmd(c); err != nil {
		f.Fatal(err)
	}
	f.Add(p)
	f.Add([]byte(`{"v":1,"id":"x","name":"sync-now"}`))
	f.Add([]byte(`{"v":1,"id":"x","name":"status","args":null,"expires":"2026-03-01T13:00:00+01:00"}`))
	f.Fuzz(func(t *testing.T, p []byte) {
		c, err := wire.DecodeCmd(p)
		if err != nil {
			checkErr(t, "cmd", p, err)
			return
		}
		again, err := wire.EncodeCmd(c)
		if err != nil {
			t.Fatalf("encode the decoded cmd: %v", err)
		}
		c2, err := wire.DecodeCmd(again)
		if err != nil {
			t.Fatalf("re-encoded cmd refused: %v\n%s", err, again)
		}
		sameEncoding(t, "cmd", c, c2)
		v1, v2 := wire.VerifyCmd(pub, &c, "s042", "t03", now), wire.VerifyCmd(pub, &c2, "s042", "t03", now)
		if (v1 == nil) != (v2 == nil) {
			t.Fatalf("verdict changed on re-encoding: %v, then %v", v1, v2)
		}
		if v1 != nil {
			checkErr(t, "verify cmd", p, v1)
		}
	})
}

// ackPayload is the signed ack HQ sends store/till for through.
func ackPayload(priv ed25519.PrivateKey, store, till string, through uint64) []byte {
	return wire.SignAck(priv, store, till, through)
}

func FuzzDecodeAck(f *testing.F) {
	pub, priv := fuzzKey(f)
	f.Add([]byte(`{"v":1,"through":3}`))
	f.Add([]byte(`{"v":1,"through":0}`))
	f.Add([]byte(`{"v":1,"through":9223372036854775807}`))
	f.Add([]byte(`{"v":1,"through":9223372036854775808}`))
	f.Add(ackPayload(priv, "s042", "t03", 1200))
	f.Add(ackPayload(priv, "s042", "t04", 1200))
	f.Add(wire.HeldPayload(priv, "s042", "t03", wire.Holding{Through: 1200, From: 1202, To: 1500}))
	f.Add(wire.HeldPayload(nil, "", "", wire.Holding{Through: 1200}))
	f.Add(wire.HeldPayload(priv, "s042", "t03", wire.Holding{Through: 1200, From: 1202, To: 1500, Count: 299}))
	f.Add(wire.HeldPayload(priv, "s042", "t03", wire.Holding{Through: 1200, From: 1202, To: 1212, Count: 3,
		Map: wire.HeldMapOf(1202, 1212, []uint64{1202, 1205, 1212})}))
	f.Add([]byte(`{"v":1,"through":5,"held_from":7,"held_to":9,"held_count":2,"held_map":"BQ"}`))
	f.Add([]byte(`{"v":1,"through":5,"held_from":7,"held_to":9,"held_count":2,"held_map":"BQA"}`))
	f.Add([]byte(`{"v":1,"through":5,"held_from":7,"held_to":9,"held_count":4}`))
	f.Add([]byte(`{"v":1,"through":9223372036854775805,"held_from":9223372036854775807,"held_to":9223372036854775807}`))
	f.Add([]byte(`{"v":1,"through":5,"held_from":6,"held_to":18446744073709551616}`))
	f.Fuzz(func(t *testing.T, p []byte) {
		a, aerr := wire.DecodeAckMessage(p)
		sa, saerr := wire.DecodeSignedAckMessage(p, pub, "s042", "t03")
		if saerr == nil && (aerr != nil || *sa.Through != *a.Through) {
			t.Fatalf("signed held message through %d, but unverified %v", *sa.Through, aerr)
		}
		if aerr == nil {
			if from, to, ok := a.Held(); ok {
				th := *a.Through
				if !(from == 0 && to == 0) && !(th+1 < from && from <= to && to <= wire.MaxSeq) {
					t.Fatalf("accepted held %d-%d above through %d", from, to, th)
				}
				h, _ := a.Holding()
				if h.Count > 0 && (h.Count > to-from+1 || h.Count < min(to-from+1, 2)) {
					t.Fatalf("accepted held_count %d for held %d-%d", h.Count, from, to)
				}
				if h.Map != nil {
					n := uint64(0)
					for seq := from; seq <= to; seq++ {
						if lacks, said := h.Lacks(seq); !said {
							t.Fatalf("held %d-%d with a map does not say about %d", from, to, seq)
						} else if !lacks {
							n++
						}
					}
					if l, _ := h.Lacks(from); l || n != h.Count {
						t.Fatalf("accepted held_map of %d entries for held_count %d (held_from lacking %v)", n, h.Count, l)
					}
				}
				again := wire.HeldPayload(priv, "s042", "t03", h)
				b, err := wire.DecodeSignedAckMessage(again, pub, "s042", "t03")
				if err != nil {
					t.Fatalf("held %+v signed again: %v", h, err)
				}
				if h2, ok := b.Holding(); !ok || h2.From != from || h2.To != to || h2.Through != th || h2.Count != h.Count || !bytes.Equal(h2.Map, h.Map) {
					t.Fatalf("held %+v signed again: %+v", h, h2)
				}
			}
		} else {
			checkErr(t, "held", p, aerr)
		}
		n, err := wire.DecodeAck(p)
		sn, serr := wire.DecodeSignedAck(p, pub, "s042", "t03")
		if serr == nil && (err != nil || sn != n) {
			t.Fatalf("signed ack through %d, but unverified %d, %v", sn, n, err)
		}
		if serr != nil {
			checkErr(t, "signed ack", p, serr)
		} else {
			if n2, err := wire.DecodeSignedAck(ackPayload(priv, "s042", "t03", sn), pub, "s042", "t03"); err != nil || n2 != sn {
				t.Fatalf("signed ack through %d signed again: %d, %v", sn, n2, err)
			}
		}
		if err != nil {
			checkErr(t, "ack", p, err)
			return
		}
		if n > wire.MaxSeq {
			t.Fatalf("accepted through %d above MaxSeq", n)
		}
		again, err := json.Marshal(wire.Ack{V: wire.Version, Through: &n})
		if err != nil {
			t.Fatal(err)
		}
		if n2, err := wire.DecodeAck(again); err != nil || n2 != n {
			t.Fatalf("ack through %d re-encoded as %s: %d, %v", n, again, n2, err)
		}
	})
}

func FuzzDecodeStatus(f *testing.F) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	old := now.Add(-time.Hour)
	p, err := wire.EncodeStatus(wire.Status{State: wire.StateOnline, At: &now, Version: "1.4.2", Board: "rpi4",
		LastSeq: 120, Watermark: 100, Backlog: 20, OldestUnsynced: &old, LedgerBytes: 1 << 20, FreeDiskBytes: 1 << 30,
		Catalog: 7, LastSale: &now, Devices: []wire.Device{{Name: "printer", State: "paper-out", Detail: "TM-T20"}}})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(p)
	f.Add(wire.LostWill())
	f.Add([]byte(`{"v":1,"state":"online","backlog":9223372036854775808}`))
	f.Add([]byte(`{"v":1,"state":"online","free_disk_bytes":-1}`))
	f.Fuzz(func(t *testing.T, p []byte) {
		s, err := wire.DecodeStatus(p)
		if err != nil {
			checkErr(t, "status", p, err)
			return
		}
		if s.LastSeq > wire.MaxSeq || s.Watermark > wire.MaxSeq || s.Backlog > wire.MaxSeq || s.Catalog > wire.MaxSeq ||
			s.LedgerBytes < 0 || s.FreeDiskBytes < 0 {
			t.Fatalf("accepted a status out of range: %+v", s)
		}
		again, err := wire.EncodeStatus(s)
		if err != nil {
			t.Fatalf("encode the decoded status: %v", err)
		}
		s2, err := wire.DecodeStatus(again)
		if err != nil {
			t.Fatalf("re-encoded status refused: %v\n%s", err, again)
		}
		sameEncoding(t, "status", s, s2)
	})
}

func FuzzDecodeEvent(f *testing.F) {
	p, err := wire.EncodeEvent(wire.Event{Kind: wire.EventPaperOut, Severity: wire.SeverityWarning, Detail: "printer",
		At: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(p)
	f.Add([]byte(`{"v":1,"kind":"disk-low","at":"2026-03-01T13:00:00.5+01:00"}`))
	f.Fuzz(func(t *testing.T, p []byte) {
		e, err := wire.DecodeEvent(p)
		if err != nil {
			checkErr(t, "event", p, err)
			return
		}
		again, err := wire.EncodeEvent(e)
		if err != nil {
			t.Fatalf("encode the decoded event: %v", err)
		}
		e2, err := wire.DecodeEvent(again)
		if err != nil {
			t.Fatalf("re-encoded event refused: %v\n%s", err, again)
		}
		sameEncoding(t, "event", e, e2)
	})
}

func FuzzDecodeCmdResult(f *testing.F) {
	p, err := wire.EncodeCmdResult(wire.CmdResult{ID: "cmd-1", Name: wire.CmdStatus, OK: true, Result: json.RawMessage(`{"backlog":0}`)})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(p)
	f.Add([]byte(`{"v":1,"id":"cmd-2","ok":false,"error":"unknown command","repeated":true}`))
	f.Fuzz(func(t *testing.T, p []byte) {
		r, err := wire.DecodeCmdResult(p)
		if err != nil {
			checkErr(t, "cmd/result", p, err)
			return
		}
		again, err := wire.EncodeCmdResult(r)
		if err != nil {
			t.Fatalf("encode the decoded result: %v", err)
		}
		r2, err := wire.DecodeCmdResult(again)
		if err != nil {
			t.Fatalf("re-encoded result refused: %v\n%s", err, again)
		}
		sameEncoding(t, "cmd/result", r, r2)
	})
}

// FuzzParseTopic: a topic parses only into a store, till and kind that build the same
// topic again.
func FuzzParseTopic(f *testing.F) {
	tp := wire.Topics{}
	for _, s := range []string{tp.Tx("s042", "t03"), tp.Ack("a", "b-1"), tp.CmdResult("s1", "t1"), tp.Catalog("s042"),
		"tillbox/v1/s/+/tx", "tillbox/v1/S/t/tx", "tillbox/v1/s/t/cmd/result/x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := tp.Parse(s)
		if err != nil {
			checkErr(t, "topic", []byte(s), err)
			if !errors.Is(err, wire.ErrTopic) {
				t.Fatalf("topic %q: %v, want ErrTopic", s, err)
			}
			return
		}
		var again string
		if got.Kind == wire.KindCatalog {
			again = tp.Catalog(got.Store)
		} else {
			again = tp.Till(got.Store, got.Till, got.Kind)
		}
		if again != s {
			t.Fatalf("topic %q parsed as %+v, which builds %q", s, got, again)
		}
	})
}
