package wire_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"tillbox/uplink/wire"
)

func goodDesired() wire.Desired {
	return wire.Desired{Rollout: "r1", Version: "1.5.0", URL: "https://hq.example/releases/a.tbx",
		SHA256: strings.Repeat("0f", 32), Size: 1 << 20, Window: "22:00-05:30"}
}

func TestDesiredSignedForOneTill(t *testing.T) {
	pub, priv := testKey(t, 1)
	otherPub, _ := testKey(t, 2)
	d := goodDesired()
	if err := wire.SignDesired(priv, &d, "s042", "t03"); err != nil {
		t.Fatal(err)
	}
	p, err := wire.EncodeDesired(d)
	if err != nil {
		t.Fatal(err)
	}
	got, err := wire.DecodeDesired(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := wire.VerifyDesired(pub, &got, "s042", "t03"); err != nil {
		t.Fatalf("signed desired: %v", err)
	}
	if err := wire.VerifyDesired(pub, &got, "s042", "t04"); !errors.Is(err, wire.ErrIdentity) {
		t.Fatalf("another till: %v", err)
	}
	if err := wire.VerifyDesired(otherPub, &got, "s042", "t03"); !errors.Is(err, wire.ErrSignature) {
		t.Fatalf("another key: %v", err)
	}
	for name, alter := range map[string]func(*wire.Desired){
		"url":     func(d *wire.Desired) { d.URL = "https://evil.example/a.tbx" },
		"sha256":  func(d *wire.Desired) { d.SHA256 = strings.Repeat("ee", 32) },
		"version": func(d *wire.Desired) { d.Version = "9.0.0" },
		"window":  func(d *wire.Desired) { d.Window = "" },
		"till":    func(d *wire.Desired) { d.Till = "t04" },
	} {
		a := got
		alter(&a)
		if err := wire.VerifyDesired(pub, &a, a.Store, a.Till); !errors.Is(err, wire.ErrSignature) {
			t.Errorf("altered %s: %v", name, err)
		}
	}
	none, err := wire.DecodeDesired(nil)
	if err != nil || none.Version != "" {
		t.Fatalf("a withdrawn desired firmware: %+v, %v", none, err)
	}
}

func TestDesiredRefusedAtDecode(t *testing.T) {
	for name, alter := range map[string]func(*wire.Desired){
		"ftp url":      func(d *wire.Desired) { d.URL = "ftp://hq/a.tbx" },
		"no host":      func(d *wire.Desired) { d.URL = "https:///a.tbx" },
		"short sha":    func(d *wire.Desired) { d.SHA256 = "abc" },
		"upper sha":    func(d *wire.Desired) { d.SHA256 = strings.Repeat("AB", 32) },
		"zero size":    func(d *wire.Desired) { d.Size = 0 },
		"huge size":    func(d *wire.Desired) { d.Size = wire.MaxBundleSize + 1 },
		"bad window":   func(d *wire.Desired) { d.Window = "25:00-01:00" },
		"bad version":  func(d *wire.Desired) { d.Version = "latest" },
		"long rollout": func(d *wire.Desired) { d.Rollout = strings.Repeat("r", wire.MaxCmdID+1) },
	} {
		d := goodDesired()
		alter(&d)
		if _, err := wire.EncodeDesired(d); !errors.Is(err, wire.ErrInvalid) {
			t.Errorf("%s: encode: %v", name, err)
		}
	}
	if _, err := wire.DecodeDesired([]byte(`{"v":1,"version":"1.0.0","url":"http://h/x","sha256":"` + strings.Repeat("a", 64) + `","size":1,"issued":"2026-01-01T00:00:00Z","extra":1}`)); !errors.Is(err, wire.ErrNotJSON) {
		t.Errorf("unknown field: %v", err)
	}
}

func TestUpdateReportInAnEvent(t *testing.T) {
	r := wire.UpdateReport{Rollout: "r1", Version: "1.5.0", Step: wire.StepRolledBack, Error: strings.Repeat("x", 5000)}
	e := wire.UpdateEvent(r)
	if e.Kind != wire.EventUpdateProgress || e.Severity != wire.SeverityError {
		t.Fatalf("event %+v", e)
	}
	e.At = time.Now()
	p, err := wire.EncodeEvent(e)
	if err != nil {
		t.Fatal(err)
	}
	e2, err := wire.DecodeEvent(p)
	if err != nil {
		t.Fatal(err)
	}
	got, err := wire.DecodeUpdateReport(e2)
	if err != nil || got.Step != r.Step || got.Version != r.Version || len(got.Error) > 1100 || !got.Failed() {
		t.Fatalf("report %+v, %v", got, err)
	}
	if _, err := wire.DecodeUpdateReport(wire.Event{Kind: wire.EventPaperOut, Detail: "{}"}); !errors.Is(err, wire.ErrInvalid) {
		t.Fatalf("another kind: %v", err)
	}
	if e := wire.UpdateEvent(wire.UpdateReport{Version: "1", Step: wire.StepVerified}); e.Severity != wire.SeverityInfo {
		t.Fatalf("a good step's severity %q", e.Severity)
	}
}

func FuzzDecodeDesired(f *testing.F) {
	pub, priv := fuzzKey(f)
	d := goodDesired()
	d.Issued = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	if err := wire.SignDesired(priv, &d, "s042", "t03"); err != nil {
		f.Fatal(err)
	}
	p, err := wire.EncodeDesired(d)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(p)
	f.Add([]byte(`{"v":1,"store":"s","till":"t","version":"","url":"","sha256":"","size":0,"issued":"0001-01-01T00:00:00Z"}`))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, p []byte) {
		d, err := wire.DecodeDesired(p)
		if err != nil {
			checkErr(t, "desired", p, err)
			return
		}
		again, err := wire.EncodeDesired(d)
		if err != nil {
			t.Fatalf("encode the decoded desired: %v", err)
		}
		d2, err := wire.DecodeDesired(again)
		if err != nil {
			t.Fatalf("re-encoded desired refused: %v\n%s", err, again)
		}
		sameEncoding(t, "desired", d, d2)
		v1, v2 := wire.VerifyDesired(pub, &d, "s042", "t03"), wire.VerifyDesired(pub, &d2, "s042", "t03")
		if (v1 == nil) != (v2 == nil) {
			t.Fatalf("verdict changed on re-encoding: %v, then %v", v1, v2)
		}
		if v1 != nil {
			checkErr(t, "verify desired", p, v1)
		}
	})
}
