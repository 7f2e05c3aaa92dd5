package hq_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"tillbox/uplink/hq"
	"tillbox/uplink/wire"
)

// TestInventorySurvivesRestart feeds a view persisted in each store kind with statuses,
// events, a will and a conflict, then builds a second view from the store alone: it
// knows all of it, the will kept the till's last word, and the event history answers
// queries by till, kind and time.
func TestInventorySurvivesRestart(t *testing.T) {
	stores(t, func(t *testing.T, st hq.Store) {
		ctx := context.Background()
		clock := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
		now := func() time.Time { return clock }
		tp := wire.Topics{}
		open := func() *hq.FleetView {
			fs, err := hq.OpenFleetStore(ctx, st)
			if err != nil {
				t.Fatal(err)
			}
			v := hq.NewFleetView("")
			v.Now = now
			v.OnError = func(err error) { t.Errorf("inventory: %v", err) }
			v.CertSerial = func(k hq.TillKey) string { return "ab" + k.Till }
			if err := v.Persist(ctx, fs); err != nil {
				t.Fatal(err)
			}
			return v
		}
		v := open()
		status := func(till string, s wire.Status) {
			p, err := wire.EncodeStatus(s)
			if err != nil {
				t.Fatal(err)
			}
			v.Observe(tp.Status("s042", till), p)
		}
		event := func(till string, e wire.Event) {
			p, err := wire.EncodeEvent(e)
			if err != nil {
				t.Fatal(err)
			}
			v.Observe(tp.Event("s042", till), p)
		}
		at := clock.Add(-time.Minute)
		oldest := clock.Add(-2 * time.Hour)
		first := clock
		status("t01", wire.Status{State: "online", At: &at, Version: "1.4.2", Slot: "b", Catalog: 7, Backlog: 12, OldestUnsynced: &oldest,
			Devices: []wire.Device{{Name: "printer", State: "ok"}, {Name: "drawer", State: "drawer-open"}}})
		event("t01", wire.Event{Kind: "paper-out", Severity: "warn", Detail: "printer", At: clock.Add(-30 * time.Minute)})
		clock = clock.Add(15 * time.Minute)
		status("t01", wire.Status{State: "online", At: &clock, Version: "1.4.2", Slot: "b", Catalog: 7, Backlog: 12, OldestUnsynced: &oldest,
			Devices: []wire.Device{{Name: "printer", State: "ok"}, {Name: "drawer", State: "drawer-open"}}})
		clock = clock.Add(time.Minute)
		lostAt := clock
		v.Observe(tp.Status("s042", "t01"), wire.LostWill())
		clock = clock.Add(time.Second) // events at one instant are listed in no set order
		status("t02", wire.Status{State: "online", At: &clock, Version: "1.5.0"})
		v.RecordConflict(hq.TillKey{Store: "s042", Till: "t02"}, "conflict", "conflict: seq 4 is held with hash aa, this one has bb")
		event("t02", wire.Event{Kind: "drawer-open", At: clock.Add(time.Second)})
		clock = clock.Add(time.Hour)

		v = open() // what a restarted tillhq knows
		got := map[string]hq.TillStatus{}
		for _, ts := range v.Tills() {
			got[ts.TillKey.String()] = ts
		}
		t1 := got["s042/t01"]
		if t1.Status.State != "lost" || t1.Status.Backlog != 12 || t1.Status.Version != "1.4.2" || t1.Status.Slot != "b" || t1.Status.Catalog != 7 || len(t1.Status.Devices) != 2 {
			t.Errorf("lost till after restart: %+v", t1.Status)
		}
		if t1.LostSince == nil || !t1.LostSince.Equal(lostAt) || !t1.FirstSeen.Equal(first) || !t1.LastSeen.Equal(lostAt.Add(-time.Minute)) {
			t.Errorf("lost since %v (want %v), first seen %v (want %v), last seen %v", t1.LostSince, lostAt, t1.FirstSeen, first, t1.LastSeen)
		}
		if t1.CertSerial != "abt01" {
			t.Errorf("certificate serial %q", t1.CertSerial)
		}
		if since := t1.DeviceSince["drawer"]; !since.Equal(first) {
			t.Errorf("drawer open since %v, want %v (the first status that said so)", since, first)
		}
		why := strings.Join(hq.Attention(t1, clock), "; ")
		if why != "lost; unsynced for 3h; drawer open for 1h" {
			t.Errorf("attention of the lost till: %q", why)
		}
		if why := strings.Join(hq.Attention(got["s042/t02"], clock), "; "); !strings.Contains(why, "1 chain conflicts") {
			t.Errorf("attention of the conflicting till: %q", why)
		}
		// The broker delivers the retained will again to the new view: nothing changes.
		v.Observe(tp.Status("s042", "t01"), wire.LostWill())
		again := v.Tills()[0]
		if again.LostSince == nil || !again.LostSince.Equal(lostAt) || again.Status.Backlog != 12 {
			t.Errorf("the will again: %+v", again)
		}
		kinds := func(evs []hq.FleetEvent) string {
			var ks []string
			for _, e := range evs {
				ks = append(ks, e.Till+":"+e.Event.Kind)
			}
			return strings.Join(ks, " ")
		}
		if got := kinds(reverse(v.Events())); got != "t01:paper-out t01:lost t02:conflict t02:drawer-open" {
			t.Errorf("events after restart: %s", got)
		}
		fs, _ := hq.OpenFleetStore(ctx, st)
		for _, c := range []struct {
			q    hq.EventQuery
			want string
		}{
			{hq.EventQuery{}, "t01:paper-out t01:lost t02:conflict t02:drawer-open"},
			{hq.EventQuery{Store: "s042", Till: "t01"}, "t01:paper-out t01:lost"},
			{hq.EventQuery{Kind: "conflict"}, "t02:conflict"},
			{hq.EventQuery{Since: lostAt}, "t01:lost t02:conflict t02:drawer-open"},
			{hq.EventQuery{Until: lostAt}, "t01:paper-out"},
			{hq.EventQuery{Limit: 2}, "t02:conflict t02:drawer-open"},
			{hq.EventQuery{Store: "s043"}, ""},
		} {
			evs, err := fs.Events(ctx, c.q)
			if err != nil {
				t.Fatal(err)
			}
			if got := kinds(evs); got != c.want {
				t.Errorf("events %+v: %q, want %q", c.q, got, c.want)
			}
		}
		// Recording an event twice (two HQs on one store) keeps it once.
		evs, _ := fs.Events(ctx, hq.EventQuery{Kind: "paper-out"})
		if err := fs.AddEvent(ctx, evs[0]); err != nil {
			t.Fatal(err)
		}
		if evs, _ := fs.Events(ctx, hq.EventQuery{Kind: "paper-out"}); len(evs) != 1 {
			t.Errorf("an event recorded twice is listed %d times", len(evs))
		}
		// Back online: no longer lost, and the devices' times follow the new states.
		status("t01", wire.Status{State: "online", At: &clock, Version: "1.4.3", Devices: []wire.Device{{Name: "drawer", State: "ok"}}})
		t1 = v.Tills()[0]
		if t1.LostSince != nil || t1.Status.Version != "1.4.3" || !t1.DeviceSince["drawer"].Equal(clock) {
			t.Errorf("back online: %+v", t1)
		}
	})
}

func reverse(evs []hq.FleetEvent) []hq.FleetEvent {
	for i, j := 0, len(evs)-1; i < j; i, j = i+1, j-1 {
		evs[i], evs[j] = evs[j], evs[i]
	}
	return evs
}

// TestThresholds checks each alert against its threshold, on both sides of it.
func TestThresholds(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	ago := func(d time.Duration) *time.Time { x := now.Add(-d); return &x }
	th := hq.Thresholds{UnsyncedTooLong: 30 * time.Minute, LostTooLong: time.Hour, StatusTooOld: 10 * time.Minute,
		DrawerOpenTooLong: 5 * time.Minute, DiskLow: 1 << 30, Conflicts: 2, ConflictWindow: 24 * time.Hour}
	kinds := func(ts hq.TillStatus) string {
		var ks []string
		for _, a := range th.Alerts(ts, now) {
			ks = append(ks, a.Kind)
		}
		return strings.Join(ks, " ")
	}
	st := func(s wire.Status) hq.TillStatus { return hq.TillStatus{Status: s} }
	for _, c := range []struct {
		name string
		ts   hq.TillStatus
		want string
	}{
		{"healthy", st(wire.Status{State: "online", At: ago(time.Minute)}), ""},
		{"unsynced under", st(wire.Status{State: "online", At: ago(time.Minute), Backlog: 3, OldestUnsynced: ago(29 * time.Minute)}), ""},
		{"unsynced over", st(wire.Status{State: "online", At: ago(time.Minute), Backlog: 3, OldestUnsynced: ago(31 * time.Minute)}), "unsynced"},
		{"lost under", hq.TillStatus{Status: wire.Status{State: "lost"}, LostSince: ago(59 * time.Minute)}, ""},
		{"lost over", hq.TillStatus{Status: wire.Status{State: "lost"}, LostSince: ago(61 * time.Minute)}, "lost"},
		{"silent", st(wire.Status{State: "online", At: ago(11 * time.Minute)}), "silent"},
		{"paper out", st(wire.Status{State: "online", At: ago(time.Minute), Devices: []wire.Device{{Name: "printer", State: "paper-out"}}}), "paper-out"},
		{"drawer under", hq.TillStatus{Status: wire.Status{State: "online", At: ago(time.Minute), Devices: []wire.Device{{Name: "drawer", State: "drawer-open"}}},
			DeviceSince: map[string]time.Time{"drawer": *ago(4 * time.Minute)}}, ""},
		{"drawer over", hq.TillStatus{Status: wire.Status{State: "online", At: ago(time.Minute), Devices: []wire.Device{{Name: "drawer", State: "drawer-open"}}},
			DeviceSince: map[string]time.Time{"drawer": *ago(6 * time.Minute)}}, "drawer-open"},
		{"scanner offline", st(wire.Status{State: "online", At: ago(time.Minute), Devices: []wire.Device{{Name: "scanner", State: "offline"}}}), "device"},
		{"disk", st(wire.Status{State: "online", At: ago(time.Minute), FreeDiskBytes: 1<<30 - 1}), "disk-low"},
		{"one conflict", hq.TillStatus{Status: wire.Status{State: "online", At: ago(time.Minute)}, Conflicts: 1, LastConflict: ago(time.Hour)}, ""},
		{"two conflicts", hq.TillStatus{Status: wire.Status{State: "online", At: ago(time.Minute)}, Conflicts: 2, LastConflict: ago(time.Hour)}, "conflict"},
		{"old conflicts", hq.TillStatus{Status: wire.Status{State: "online", At: ago(time.Minute)}, Conflicts: 2, LastConflict: ago(25 * time.Hour)}, ""},
		{"bad status", hq.TillStatus{Err: "bad"}, "bad-status"},
	} {
		if got := kinds(c.ts); got != c.want {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}
	// Zero turns an alert off (LostTooLong: lost is an alert at once).
	var off hq.Thresholds
	if a := off.Alerts(st(wire.Status{State: "online", At: ago(time.Hour), FreeDiskBytes: 1, Backlog: 1, OldestUnsynced: ago(48 * time.Hour)}), now); len(a) != 0 {
		t.Errorf("all off: %v", a)
	}
	if a := off.Alerts(hq.TillStatus{Status: wire.Status{State: "lost"}, LostSince: ago(time.Second)}, now); len(a) != 1 || a[0].Kind != hq.AlertLost {
		t.Errorf("lost with LostTooLong 0: %v", a)
	}
}

// TestEventsBoundedAndPruned: a till flooding its event topic gets EventRate events a
// minute kept and the rest counted; PruneEvents removes exactly the old ones.
func TestEventsBoundedAndPruned(t *testing.T) {
	stores(t, func(t *testing.T, st hq.Store) {
		ctx := context.Background()
		fs, err := hq.OpenFleetStore(ctx, st)
		if err != nil {
			t.Fatal(err)
		}
		clock := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
		v := hq.NewFleetView("")
		v.Now = func() time.Time { return clock }
		v.EventRate = 5
		v.OnError = func(err error) { t.Error(err) }
		if err := v.Persist(ctx, fs); err != nil {
			t.Fatal(err)
		}
		tp := wire.Topics{}
		emit := func(till string, n int) {
			for i := range n {
				p, _ := wire.EncodeEvent(wire.Event{Kind: "scan-garbage", Detail: fmt.Sprint(i), At: clock.Add(time.Duration(i) * time.Millisecond)})
				v.Observe(tp.Event("s042", till), p)
			}
		}
		emit("t01", 50)
		emit("t02", 3)
		if d := v.Dropped(); d[hq.TillKey{Store: "s042", Till: "t01"}] != 45 || d[hq.TillKey{Store: "s042", Till: "t02"}] != 0 {
			t.Errorf("dropped %v, want 45 of t01 and none of t02", d)
		}
		clock = clock.Add(time.Minute) // a new minute: room again
		emit("t01", 2)
		evs, err := fs.Events(ctx, hq.EventQuery{Store: "s042", Till: "t01"})
		if err != nil || len(evs) != 7 {
			t.Fatalf("t01 events kept: %d, %v; want 5+2", len(evs), err)
		}
		// An event dated 1970 is kept at HQ's time of arrival.
		p, _ := wire.EncodeEvent(wire.Event{Kind: "boot", At: time.Unix(0, 0)})
		v.Observe(tp.Event("s042", "t03"), p)
		if evs, _ := fs.Events(ctx, hq.EventQuery{Kind: "boot"}); len(evs) != 1 || !evs[0].Event.At.Equal(clock) {
			t.Errorf("an event from 1970: %+v", evs)
		}
		n, err := fs.PruneEvents(ctx, clock)
		if err != nil || n != 8 {
			t.Fatalf("pruned %d, %v; want the 8 of the first minute", n, err)
		}
		left, _ := fs.Events(ctx, hq.EventQuery{})
		if len(left) != 3 {
			t.Errorf("%d events left, want 3", len(left))
		}
	})
}
