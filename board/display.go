package board

// displayHealth reports the customer display. This build does not open it: the profile's
// display spec is validated (so a config file naming a bad bus or code page is refused
// now, not when the driver arrives) and Health says so.
func (s *Set) displayHealth() DeviceHealth {
	spec := s.profile.Display
	h := DeviceHealth{Name: "display", Kind: spec.Kind, State: StateOffline, Detail: "not opened: no display driver in this build"}
	switch spec.Kind {
	case KindPole:
		h.Port = spec.Path
	case KindHD44780:
		h.Port = "i2c " + spec.Bus + " " + addrText(spec.Addr)
	default:
		h.Port = spec.Kind
	}
	return h
}

func addrText(a I2CAddr) string {
	b, _ := a.MarshalJSON()
	return string(b[1 : len(b)-1])
}
