package techpage

import (
	"time"

	"tillbox/board"
	"tillbox/ledger"
)

// snapshot is one reading of everything the page shows; status.json is the same.
type snapshot struct {
	Store, Till, Board, Version string
	Now                         time.Time
	Devices                     []board.DeviceHealth
	Ledger                      *ledger.Stats `json:",omitempty"`
	LedgerErr                   string        `json:",omitempty"`
	Uplink                      uplinkView
	Net                         netStatus
	Boot                        BootStatus
	Tests                       []testView
	Logs                        []string
	Events                      []Event
	CSRF                        string `json:"-"`
}

type uplinkView struct {
	Broker string // "" none configured
	Known  bool   // an uplink event was seen
	Online bool
	Since  time.Time
}

type testView struct {
	Name, Label string
	Done        bool
	Last        result
}

func (s *Server) snapshot() snapshot {
	o := s.o
	snap := snapshot{Store: o.Store, Till: o.Till, Board: o.Board, Version: o.Version, Now: o.Now(),
		Net: readNet(o.Data), Boot: ReadBoot(o.Layout), CSRF: csrf(s.token())}
	if o.Devices != nil {
		snap.Devices = o.Devices()
	}
	if o.Ledger != nil {
		st, err := o.Ledger()
		if err != nil {
			snap.LedgerErr = err.Error()
		} else {
			snap.Ledger = &st
		}
	}
	snap.Uplink.Broker = o.Uplink
	if o.Events != nil {
		snap.Uplink.Known, snap.Uplink.Online, snap.Uplink.Since = o.Events.Uplink()
		snap.Events = o.Events.Recent()
	}
	if o.Logs != nil {
		snap.Logs = o.Logs.Lines()
	}
	s.mu.Lock()
	for _, t := range o.Tests {
		r, done := s.results[t.Name]
		snap.Tests = append(snap.Tests, testView{Name: t.Name, Label: t.Label, Done: done, Last: r})
	}
	s.mu.Unlock()
	return snap
}
