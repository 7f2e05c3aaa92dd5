package uplink_test

import (
	"crypto/ed25519"
	"strings"
	"sync"
	"testing"
	"time"

	"tillbox/uplink/wire"
)

// TestTillTakesOnlySignedDesiredFirmware: a till that knows HQ's key hands the firmware
// only the desired firmware HQ signed for it; unsigned, wrongly signed, another till's and
// altered ones are refused with a refused update report, and a withdrawal gets through.
func TestTillTakesOnlySignedDesiredFirmware(t *testing.T) {
	mq, ca, other, l := signingRig(t)
	var mu sync.Mutex
	var got []wire.Desired
	o := fastOptions(mq.URL())
	o.HQKey = hqPublic(t, ca)
	o.Desired = func(d wire.Desired) {
		mu.Lock()
		got = append(got, d)
		mu.Unlock()
	}
	c, _ := runTill(t, l, o)
	waitFor(t, 20*time.Second, "online", func() bool { return c.State().Online })
	fleet := dialRaw(t, mq.URL(), "attacker")
	topic := wire.Topics{}.Desired("s042", "t01")
	base := wire.Desired{Version: "1.2.0", URL: "https://hq.example/releases/x.tbx", SHA256: strings.Repeat("ab", 32), Size: 4096}
	pub := func(key ed25519.PrivateKey, till string, alter func(*wire.Desired)) {
		d := base
		if key != nil {
			if err := wire.SignDesired(key, &d, "s042", till); err != nil {
				t.Fatal(err)
			}
		} else {
			d.Store, d.Till = "s042", till
		}
		if alter != nil {
			alter(&d)
		}
		p, err := wire.EncodeDesired(d)
		if err != nil {
			t.Fatal(err)
		}
		fleet.pub(topic, true, p)
	}
	for _, r := range []struct {
		name   string
		key    ed25519.PrivateKey
		till   string
		alter  func(*wire.Desired)
		reason string
	}{
		{"unsigned", nil, "t01", nil, "not signed"},
		{"wrong key", other.SigningKey(), "t01", nil, "does not match the key"},
		{"other till", ca.SigningKey(), "t02", nil, "addressed to s042/t02"},
		{"altered url", ca.SigningKey(), "t01", func(d *wire.Desired) { d.URL = "https://evil.example/x.tbx" }, "does not match the key"},
	} {
		pub(r.key, r.till, r.alter)
		e := nextEvent(t, c, wire.EventUpdateProgress)
		rep, err := wire.DecodeUpdateReport(e)
		if err != nil || rep.Step != wire.StepRefused || !strings.Contains(rep.Error, r.reason) {
			t.Errorf("%s: report %+v (%v), want refused with %q", r.name, rep, err, r.reason)
		}
	}
	pub(ca.SigningKey(), "t01", nil)
	waitFor(t, 20*time.Second, "the signed desired firmware", func() bool { mu.Lock(); defer mu.Unlock(); return len(got) > 0 })
	fleet.pub(topic, true, nil) // withdrawn: the retained message is cleared
	waitFor(t, 20*time.Second, "the withdrawal", func() bool { mu.Lock(); defer mu.Unlock(); return len(got) > 1 })
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 2 || got[0].URL != base.URL || got[0].Version != "1.2.0" || got[1].Version != "" {
		t.Fatalf("handed to the firmware: %+v", got)
	}
}
