package hq

import (
	"fmt"
	"time"

	"tillbox/uplink/wire"
)

// Thresholds say when a till needs someone. The zero value of a duration or a count turns
// that alert off, except LostTooLong (0: a lost till is an alert at once); the defaults
// are DefaultThresholds.
type Thresholds struct {
	// UnsyncedTooLong: the till's oldest entry not acknowledged by HQ is older than this.
	UnsyncedTooLong time.Duration
	// LostTooLong: the broker published the till's will this long ago or longer.
	LostTooLong time.Duration
	// StatusTooOld: an online till whose status is older than this (it publishes one a
	// minute) has stopped talking without its will firing yet.
	StatusTooOld time.Duration
	// DrawerOpenTooLong: the cash drawer has been open this long, by HQ's clock.
	DrawerOpenTooLong time.Duration
	// DiskLow: less free space than this on the till's data partition, in bytes.
	DiskLow int64
	// Conflicts: this many chain conflicts or broken chains recorded for the till, the
	// last one within ConflictWindow.
	Conflicts      int
	ConflictWindow time.Duration
}

// Defaults of Thresholds.
const (
	UnsyncedTooLong   = time.Hour
	StatusTooOld      = 5 * time.Minute
	DrawerOpenTooLong = 10 * time.Minute
	DiskLow           = 100 << 20
	ConflictWindow    = 7 * 24 * time.Hour
)

// DefaultThresholds are the thresholds HQ uses when it is not told otherwise.
func DefaultThresholds() Thresholds {
	return Thresholds{UnsyncedTooLong: UnsyncedTooLong, StatusTooOld: StatusTooOld, DrawerOpenTooLong: DrawerOpenTooLong,
		DiskLow: DiskLow, Conflicts: 1, ConflictWindow: ConflictWindow}
}

func (th *Thresholds) get() Thresholds {
	if th == nil {
		return DefaultThresholds()
	}
	return *th
}

// Alert kinds, the values of the alert label of tillbox_till_alert. The set is fixed.
const (
	AlertBadStatus  = "bad-status"
	AlertLost       = "lost"
	AlertStopped    = "stopped-with-backlog"
	AlertSilent     = "silent"
	AlertUnsynced   = "unsynced"
	AlertPaperOut   = "paper-out"
	AlertDrawerOpen = "drawer-open"
	AlertDevice     = "device"
	AlertDiskLow    = "disk-low"
	AlertConflict   = "conflict"
	// AlertRefused: messages of the till refused (not decoding, not signed by its key) and
	// quarantined, the last within ConflictWindow.
	AlertRefused = "refused"
	// AlertQuarantineFull: the till passed the quarantine's bound (QuarantineLimits) and
	// HQ dropped some of its quarantine, the last within ConflictWindow.
	AlertQuarantineFull = "quarantine-full"
)

// AlertKinds lists every alert kind, in a fixed order.
var AlertKinds = []string{AlertBadStatus, AlertLost, AlertStopped, AlertSilent, AlertUnsynced, AlertPaperOut,
	AlertDrawerOpen, AlertDevice, AlertDiskLow, AlertConflict, AlertRefused, AlertQuarantineFull}

// TillAlert is one reason a till needs someone.
type TillAlert struct {
	Kind string // one of AlertKinds
	Text string // for people: "unsynced for 3h"
}

// devicesFine are the device states that need nobody (board.StateOK and friends). An open
// drawer is fine until DrawerOpenTooLong.
var devicesFine = map[string]bool{"": true, "ok": true, "online": true, "drawer-open": true}

// Alerts lists why the till needs someone under th, empty when it does not.
func (th *Thresholds) Alerts(ts TillStatus, now time.Time) []TillAlert {
	t := th.get()
	if ts.Err != "" {
		return []TillAlert{{AlertBadStatus, "status does not decode"}}
	}
	s := ts.Status
	var out []TillAlert
	add := func(kind, format string, a ...any) { out = append(out, TillAlert{kind, fmt.Sprintf(format, a...)}) }
	switch s.State {
	case wire.StateLost:
		switch {
		case ts.LostSince == nil || t.LostTooLong <= 0:
			add(AlertLost, "lost")
		case now.Sub(*ts.LostSince) >= t.LostTooLong:
			add(AlertLost, "lost for %s", roundAge(now.Sub(*ts.LostSince)))
		}
	case wire.StateStopped:
		if s.Backlog > 0 {
			add(AlertStopped, "stopped with %d unsynced", s.Backlog)
		}
	case wire.StateOnline:
		if t.StatusTooOld > 0 && s.At != nil && now.Sub(*s.At) > t.StatusTooOld {
			add(AlertSilent, "silent for %s", roundAge(now.Sub(*s.At)))
		}
	}
	if t.UnsyncedTooLong > 0 && s.OldestUnsynced != nil && s.Backlog > 0 && now.Sub(*s.OldestUnsynced) > t.UnsyncedTooLong {
		add(AlertUnsynced, "unsynced for %s", roundAge(now.Sub(*s.OldestUnsynced)))
	}
	for _, d := range s.Devices {
		switch {
		case d.State == "paper-out":
			add(AlertPaperOut, "%s %s", d.Name, d.State)
		case d.State == "drawer-open":
			since, ok := ts.DeviceSince[d.Name]
			if t.DrawerOpenTooLong > 0 && ok && now.Sub(since) >= t.DrawerOpenTooLong {
				add(AlertDrawerOpen, "%s open for %s", d.Name, roundAge(now.Sub(since)))
			}
		case !devicesFine[d.State]:
			add(AlertDevice, "%s %s", d.Name, d.State)
		}
	}
	if t.DiskLow > 0 && s.FreeDiskBytes > 0 && s.FreeDiskBytes < t.DiskLow {
		add(AlertDiskLow, "disk low (%d MB free)", s.FreeDiskBytes>>20)
	}
	if t.Conflicts > 0 && ts.Conflicts >= t.Conflicts && ts.LastConflict != nil &&
		(t.ConflictWindow <= 0 || now.Sub(*ts.LastConflict) <= t.ConflictWindow) {
		add(AlertConflict, "%d chain conflicts, last %s ago", ts.Conflicts, roundAge(now.Sub(*ts.LastConflict)))
	}
	// Integrity findings too, under the conflicts' switch and window.
	recent := func(at *time.Time) bool {
		return t.Conflicts > 0 && at != nil && (t.ConflictWindow <= 0 || now.Sub(*at) <= t.ConflictWindow)
	}
	if ts.Refused > 0 && recent(ts.LastRefused) {
		add(AlertRefused, "%d messages refused, last %s ago", ts.Refused, roundAge(now.Sub(*ts.LastRefused)))
	}
	if ts.QuarantineDropped > 0 && recent(ts.LastDropped) {
		add(AlertQuarantineFull, "quarantine full: %d messages dropped, last %s ago", ts.QuarantineDropped, roundAge(now.Sub(*ts.LastDropped)))
	}
	return out
}

// Attention is Alerts as text.
func (th *Thresholds) Attention(ts TillStatus, now time.Time) []string {
	var why []string
	for _, a := range th.Alerts(ts, now) {
		why = append(why, a.Text)
	}
	return why
}

// Attention lists why a till needs someone under DefaultThresholds, empty when it does
// not: lost, a stopped till with a backlog, sales unsynced for long, a status gone quiet,
// a device in trouble, low disk, chain conflicts, a status that does not decode.
func Attention(ts TillStatus, now time.Time) []string { return (*Thresholds)(nil).Attention(ts, now) }

func roundAge(d time.Duration) string {
	switch {
	case d >= 48*time.Hour:
		return fmt.Sprintf("%dd", int(d.Hours()/24))
	case d >= time.Hour:
		return fmt.Sprintf("%dh", int(d.Hours()))
	case d >= time.Minute:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	}
	return fmt.Sprintf("%ds", int(d.Seconds()))
}
