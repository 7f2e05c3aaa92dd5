//go:build linux

package main

import (
	"context"
	"encoding/json"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"tillbox/image/clock"
	"tillbox/image/netconf"
	"tillbox/image/spec"
)

const (
	// siteFile is the shop's own network setup, when it differs from the board's.
	siteFile = tillData + "/network.json"
	// netStatusFile is the network and time state for the till's status pages.
	netStatusFile = tillData + "/net.json"
	// timeFile holds the last trusted time (clock.Keeper).
	timeFile = tillData + "/time.json"
)

// site is network.json: each field given replaces the board's.
type site struct {
	DHCP   *bool           `json:"dhcp,omitempty"`
	Static *netconf.Static `json:"static,omitempty"`
	NTP    []string        `json:"ntp,omitempty"`
}

// netStatus is net.json, rewritten (whole, by rename) on each change.
type netStatus struct {
	mu      sync.Mutex
	Net     netconf.State `json:"net"`
	Time    clock.State   `json:"time"`
	Updated time.Time     `json:"updated"`
}

func (s *netStatus) write() {
	s.Updated = time.Now().UTC()
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return
	}
	tmp := netStatusFile + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err == nil {
		err = os.Rename(tmp, netStatusFile)
	}
}

func rtcFor(name string) clock.RTC {
	switch {
	case name == "":
		return nil
	case strings.HasPrefix(name, "i2c-"):
		bus, addr, _ := strings.Cut(strings.TrimPrefix(name, "i2c-"), ":")
		b, err1 := strconv.Atoi(bus)
		a, err2 := strconv.ParseUint(addr, 0, 16)
		if err1 != nil || err2 != nil {
			logf("time: rtc %q: want i2c-BUS:ADDR", name)
			return nil
		}
		return clock.I2CRTC{Bus: b, Addr: uint16(a)}
	default:
		return clock.DevRTC(name)
	}
}

// startNetClock sets the clock from the RTC or the last trusted time, then configures the
// network, once late closes (its driver is loaded), and keeps NTP running on it, in the
// background.
func startNetClock(sp spec.Spec, late <-chan struct{}) {
	// DHCP transaction ids need to be unique, not secret: the DHCP library takes them
	// from /dev/urandom instead of spinning on getrandom until the CRNG is seeded.
	os.Setenv("UROOT_NOHWRNG", "1")
	st := &netStatus{}
	var st0 site
	if b, err := os.ReadFile(siteFile); err == nil {
		if err := json.Unmarshal(b, &st0); err != nil {
			logf("network: %s: %v (the board's setup is used)", siteFile, err)
			st0 = site{}
		}
	}

	k := &clock.Keeper{Store: timeFile, Set: clock.SetSystem}
	if sp.Time != nil {
		k.RTC, k.Servers = rtcFor(sp.Time.RTC), sp.Time.NTP
	}
	if st0.NTP != nil {
		k.Servers = st0.NTP
	}
	// The data partition was made with the image: the clock is never earlier than that.
	if fi, err := os.Stat(configFile); err == nil {
		k.Floor = fi.ModTime()
	}
	k.Report = func(t clock.State) {
		st.mu.Lock()
		was := st.Time
		st.Time = t
		st.write()
		st.mu.Unlock()
		if t.Source == clock.SourceNTP && (was.Source != clock.SourceNTP || was.Server != t.Server) {
			logf("time: ntp %s, offset %s, clock %s", t.Server, t.Offset, time.Now().UTC().Format(time.RFC3339))
		} else if t.Error != "" && t.Error != was.Error && was.Source != "" {
			logf("time: %s", t.Error)
		}
	}
	t := k.Boot()
	logf("time: %s%s, clock %s%s", t.Source, map[bool]string{false: " (untrusted)"}[t.Trusted],
		time.Now().UTC().Format(time.RFC3339), map[bool]string{true: ", " + t.Error}[t.Error != ""])

	if sp.Net == nil {
		return
	}
	cfg := netconf.Config{Iface: sp.Net.Iface, DHCP: sp.Net.DHCP, LeaseTimeout: time.Duration(sp.Net.LeaseTimeout) * time.Second}
	if sp.Net.Addr != "" {
		cfg.Static = &netconf.Static{Addr: sp.Net.Addr, Gateway: sp.Net.Gateway, DNS: sp.Net.DNS}
	}
	if st0.DHCP != nil {
		cfg.DHCP = *st0.DHCP
	}
	if st0.Static != nil {
		cfg.Static = st0.Static
	}
	kick := make(chan struct{}, 1)
	var once sync.Once
	var last netconf.State
	netStart := time.Now()
	report := func(n netconf.State) {
		st.mu.Lock()
		st.Net = n
		st.write()
		st.mu.Unlock()
		if n.Mode == netconf.ModeNone && n.Addr == "" {
			if n.Link != last.Link || n.Error != last.Error {
				logf("network %s: link %s, no address yet%s", n.Iface, map[bool]string{true: "up", false: "down"}[n.Link],
					map[bool]string{true: " (" + n.Error + ")"}[n.Error != ""])
			}
		} else if n.Mode != last.Mode || n.Addr != last.Addr || n.Link != last.Link || n.Gateway != last.Gateway {
			logf("network %s: link %s, %s %s gateway %s dns %s%s; %s after start", n.Iface, map[bool]string{true: "up", false: "down"}[n.Link],
				n.Mode, n.Addr, n.Gateway, strings.Join(n.DNS, ","), map[bool]string{true: " (" + n.Error + ")"}[n.Error != ""],
				time.Since(netStart).Round(time.Millisecond))
		}
		if strings.Join(n.NTP, ",") != strings.Join(last.NTP, ",") {
			k.AddServers(n.NTP)
			select {
			case kick <- struct{}{}:
			default:
			}
		}
		last = n
		if n.Mode != netconf.ModeNone && n.Addr != "" {
			once.Do(func() {
				go k.Run(context.Background(), kick)
			})
		}
	}
	go func() {
		<-late
		err := netconf.Run(context.Background(), cfg, &netconf.Linux{Iface: sp.Net.Iface, Resolv: "/etc/resolv.conf"}, report)
		logf("network: %v", err)
	}()
}
