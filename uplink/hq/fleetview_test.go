package hq_test

import (
	"strings"
	"testing"
	"time"

	"tillbox/uplink/hq"
	"tillbox/uplink/wire"
)

func TestFleetViewAttentionAndFilters(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	v := hq.NewFleetView("")
	tp := wire.Topics{}
	put := func(store, till string, s wire.Status) {
		p, err := wire.EncodeStatus(s)
		if err != nil {
			t.Fatal(err)
		}
		v.Observe(tp.Status(store, till), p)
	}
	at := now.Add(-time.Minute)
	old := now.Add(-3 * time.Hour)
	sale := now.Add(-10 * time.Minute)
	put("s1", "t1", wire.Status{State: "online", At: &at, LastSale: &sale})
	put("s1", "t2", wire.Status{State: "online", At: &at, Backlog: 4, OldestUnsynced: &old})
	put("s2", "t1", wire.Status{State: "online", At: &at, Devices: []wire.Device{{Name: "printer", State: "paper-out"}}, Version: "1.2"})
	v.Observe(tp.Status("s2", "t1"), wire.LostWill())
	v.Observe(tp.Status("s2", "t2"), []byte(`{"v":1}`))

	got := map[string]string{}
	for _, ts := range v.Tills() {
		got[ts.TillKey.String()] = strings.Join(hq.Attention(ts, now), "; ")
	}
	want := map[string]string{
		"s1/t1": "", "s1/t2": "unsynced for 3h", "s2/t1": "lost; printer paper-out", "s2/t2": "status does not decode",
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s: attention %q, want %q", k, got[k], w)
		}
	}
	lost := hq.FleetFilter{State: "lost"}.Filter(v.Tills(), now)
	if len(lost) != 1 || lost[0].Status.Version != "1.2" {
		t.Errorf("lost till keeps what it last said: %+v", lost)
	}
	if n := len(hq.FleetFilter{Store: "s1", Attention: true}.Filter(v.Tills(), now)); n != 1 {
		t.Errorf("s1 needing attention: %d, want 1", n)
	}
}
