package board

import (
	"fmt"
	"strings"

	"tillbox/drivers"
	"tillbox/drivers/drawer"
)

// Health states. A device reports the one that matters most to the cashier: a printer
// with its cover open and no paper says cover-open, since closing the cover comes first.
const (
	StateOK             = "ok"
	StateOffline        = "offline"          // unplugged, not answering, or never opened
	StatePaperOut       = "paper-out"        // printer: the roll is empty
	StatePaperLow       = "paper-low"        // printer: paper near end
	StateCoverOpen      = "cover-open"       // printer
	StateDrawerOpen     = "drawer-open"      // drawer: open, not yet for too long
	StateDrawerLeftOpen = "drawer-left-open" // drawer: open for Options.DrawerLeftOpen
	StateJammed         = "jammed"           // printer: cutter or mechanical error; drawer: kicked and did not open
)

// DeviceHealth is one device's state for the operator display and the uplink's status.
type DeviceHealth struct {
	// Name is the device: printer, scanner, display, drawer or keypad.
	Name string `json:"name"`
	// Kind is the spec's kind ("serial", "sim", ...); for the drawer kick/sense
	// ("printer/printer", "gpio/gpio").
	Kind string `json:"kind"`
	// Port is where the device is: a path, a host:port, "sim".
	Port string `json:"port,omitempty"`
	// State is one of the State constants.
	State string `json:"state"`
	// Detail says why, for a technician: the open error of an offline device, the printer's
	// status flags.
	Detail string `json:"detail,omitempty"`
}

// Health reports every device of the profile, in the order of Devices. It reads the
// drivers' last known status and never waits for a device.
func (s *Set) Health() []DeviceHealth {
	var hs []DeviceHealth
	p := s.profile
	if p.Printer != nil {
		hs = append(hs, s.printerHealth())
	}
	if p.Scanner != nil {
		h := s.lineHealth("scanner", p.Scanner.Kind)
		if h.State == StateOK {
			st := s.Scanner.Status()
			if st.State != drivers.Online {
				h.State, h.Detail = StateOffline, errText(st.Err, st.State.String())
			} else {
				h.Detail = fmt.Sprintf("%d scans, %d rejected", st.Scans, st.Rejects)
			}
		}
		hs = append(hs, h)
	}
	if p.Display != nil {
		hs = append(hs, s.displayHealth())
	}
	if p.Drawer != nil {
		hs = append(hs, s.drawerHealth())
	}
	if p.Keypad != nil {
		h := s.lineHealth("keypad", p.Keypad.Kind)
		if h.State == StateOK {
			st := s.Keypad.Status()
			if st.State != drivers.Online {
				h.State, h.Detail = StateOffline, errText(st.Err, st.State.String())
			}
		}
		hs = append(hs, h)
	}
	return hs
}

// lineHealth is the port's side of a device's health: offline with the cause while the
// supervisor has no port for it.
func (s *Set) lineHealth(name, kind string) DeviceHealth {
	h := DeviceHealth{Name: name, Kind: kind, State: StateOK}
	l := s.lines[name]
	if l == nil {
		return h
	}
	h.Port = l.where
	if up, reason, since := l.state(); !up {
		h.State = StateOffline
		h.Detail = errText(reason, "not connected")
		if reason != nil {
			h.Detail += " (since " + since.Format("15:04:05") + ")"
		}
	}
	return h
}

func (s *Set) printerHealth() DeviceHealth {
	h := s.lineHealth("printer", s.profile.Printer.Kind)
	if h.State != StateOK {
		return h
	}
	st := s.Printer.Status()
	switch {
	case !st.Connected:
		h.State, h.Detail = StateOffline, "printer not answering"
	case st.CoverOpen:
		h.State = StateCoverOpen
	case st.PaperOut:
		h.State = StatePaperOut
	case st.Error:
		h.State = StateJammed
	case st.PaperNearEnd:
		h.State = StatePaperLow
	}
	if h.Detail == "" {
		h.Detail = st.String()
	}
	return h
}

func (s *Set) drawerHealth() DeviceHealth {
	spec := s.profile.Drawer
	h := DeviceHealth{Name: "drawer", Kind: spec.Kick + "/" + spec.Sense, State: StateOK}
	switch {
	case spec.Kick == KindGPIO:
		h.Port = spec.KickGPIO
	case spec.Kick == KindPrinter:
		h.Port = fmt.Sprintf("printer pin %d", spec.Pin)
	default:
		h.Port = spec.Kick
	}
	if s.Drawer == nil {
		h.State, h.Detail = StateOffline, errText(s.drawerErr, "not wired")
		return h
	}
	st := s.Drawer.Status()
	switch {
	case st.Jammed:
		h.State, h.Detail = StateJammed, "kicked but did not open"
	case st.LeftOpen:
		h.State, h.Detail = StateDrawerLeftOpen, "open since "+st.Since.Format("15:04:05")
	case st.State == drawer.StateOpen:
		h.State, h.Detail = StateDrawerOpen, "open since "+st.Since.Format("15:04:05")
	case st.Sensed && st.State == drawer.StateUnknown:
		h.State, h.Detail = StateOffline, "sense switch: "+errText(st.Err, "not answering")
	default:
		h.Detail = st.String()
	}
	// A drawer kicked through the printer cannot open while the printer is away or reports
	// an error (it ignores pulses then), whatever its switch says: the cashier needs to know
	// before the sale is tendered. Paper out and an open cover do not stop a kick.
	if spec.Kick == KindPrinter && h.State == StateOK {
		switch ph := s.printerHealth(); ph.State {
		case StateOffline:
			h.State, h.Detail = StateOffline, "kicked through the printer, which is offline: "+ph.Detail
		case StateJammed:
			h.State, h.Detail = StateOffline, "kicked through the printer, which reports an error: "+ph.Detail
		}
	}
	return h
}

func errText(err error, fallback string) string {
	if err == nil {
		return fallback
	}
	return strings.TrimSpace(err.Error())
}
