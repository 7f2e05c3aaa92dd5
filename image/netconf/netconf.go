package netconf

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/insomniacslk/dhcp/dhcpv4/nclient4"
)

// Static is a fixed IPv4 configuration.
type Static struct {
	Addr    string   `json:"addr"`              // CIDR, 192.168.1.20/24
	Gateway string   `json:"gateway,omitempty"` // "" no default route
	DNS     []string `json:"dns,omitempty"`
}

// Config says how to configure one interface.
type Config struct {
	Iface string
	// DHCP asks for a lease; Static is then the fallback (nil: none), else the only setup.
	DHCP   bool
	Static *Static
	// LeaseTimeout is how long discovery may take before the fallback (default 10 s);
	// Retry how often DHCP is tried again while on the fallback (default 60 s); Poll the
	// interval at which the carrier is looked at (default 1 s).
	LeaseTimeout, Retry, Poll time.Duration
}

// Modes of State.
const (
	ModeDHCP   = "dhcp"
	ModeStatic = "static"
	ModeNone   = "none"
)

// State is the interface's state for the box's status file.
type State struct {
	Iface   string   `json:"iface"`
	Link    bool     `json:"link"`
	Mode    string   `json:"mode"`
	Addr    string   `json:"addr,omitempty"`
	Gateway string   `json:"gateway,omitempty"`
	DNS     []string `json:"dns,omitempty"`
	// NTP are the lease's NTP servers (option 42).
	NTP []string `json:"ntp,omitempty"`
	// Server is the DHCP server; RenewAt and Expires the lease's T1 and end.
	Server  string    `json:"dhcp_server,omitempty"`
	RenewAt time.Time `json:"renew_at,omitzero"`
	Expires time.Time `json:"expires,omitzero"`
	Error   string    `json:"error,omitempty"`
}

// Setup is an address with what goes with it.
type Setup struct {
	Addr    netip.Prefix
	Gateway netip.Addr // invalid: no default route
	DNS     []netip.Addr
}

// Host is the interface as Run sees it.
type Host interface {
	// Up brings the interface (and loopback) up.
	Up() error
	// Carrier reports whether the link is up.
	Carrier() bool
	// Apply configures the address, the default route and DNS.
	Apply(Setup) error
	// Client is a DHCP client on the interface (closed by Run after each exchange).
	Client() (*nclient4.Client, error)
}

// ParseStatic checks a static configuration.
func ParseStatic(s *Static) (Setup, error) {
	var su Setup
	p, err := netip.ParsePrefix(s.Addr)
	if err != nil || !p.Addr().Is4() {
		return su, fmt.Errorf("netconf: static address %q: want IPv4 CIDR (192.168.1.20/24)", s.Addr)
	}
	su.Addr = p
	if s.Gateway != "" {
		if su.Gateway, err = netip.ParseAddr(s.Gateway); err != nil || !p.Contains(su.Gateway) {
			return su, fmt.Errorf("netconf: static gateway %q: want an IPv4 address in %s", s.Gateway, p.Masked())
		}
	}
	for _, d := range s.DNS {
		a, err := netip.ParseAddr(d)
		if err != nil {
			return su, fmt.Errorf("netconf: static DNS %q: %w", d, err)
		}
		su.DNS = append(su.DNS, a)
	}
	return su, nil
}

func addrs(ips []net.IP) []netip.Addr {
	var out []netip.Addr
	for _, ip := range ips {
		if a, ok := netip.AddrFromSlice(ip.To4()); ok {
			out = append(out, a)
		}
	}
	return out
}

func strs[T fmt.Stringer](xs []T) []string {
	var out []string
	for _, x := range xs {
		out = append(out, x.String())
	}
	return out
}

// leaseSetup is what a lease configures.
func leaseSetup(l *nclient4.Lease) (Setup, error) {
	ack := l.ACK
	ip, ok := netip.AddrFromSlice(ack.YourIPAddr.To4())
	if !ok || !ip.IsValid() || ip.IsUnspecified() {
		return Setup{}, errors.New("netconf: lease without an address")
	}
	mask := ack.SubnetMask()
	ones, bits := mask.Size()
	if mask == nil || bits != 32 {
		ones = 24 // no subnet mask option: the class C default
	}
	su := Setup{Addr: netip.PrefixFrom(ip, ones), DNS: addrs(ack.DNS())}
	if r := addrs(ack.Router()); len(r) > 0 {
		su.Gateway = r[0]
	}
	return su, nil
}

type runner struct {
	cfg    Config
	h      Host
	report func(State)
	st     State
}

func (r *runner) emit() {
	s := r.st
	s.DNS, s.NTP = slices.Clone(s.DNS), slices.Clone(s.NTP)
	r.report(s)
}

// Run configures the interface until ctx ends.
func Run(ctx context.Context, cfg Config, h Host, report func(State)) error {
	if cfg.LeaseTimeout <= 0 {
		cfg.LeaseTimeout = 10 * time.Second
	}
	if cfg.Retry <= 0 {
		cfg.Retry = time.Minute
	}
	if cfg.Poll <= 0 {
		cfg.Poll = time.Second
	}
	if report == nil {
		report = func(State) {}
	}
	var static *Setup
	if cfg.Static != nil {
		su, err := ParseStatic(cfg.Static)
		if err != nil {
			return err
		}
		static = &su
	}
	if !cfg.DHCP && static == nil {
		return errors.New("netconf: neither DHCP nor a static address")
	}
	r := &runner{cfg: cfg, h: h, report: report, st: State{Iface: cfg.Iface, Mode: ModeNone}}
	if err := h.Up(); err != nil {
		r.st.Error = err.Error()
		r.emit()
		return fmt.Errorf("netconf: %w", err)
	}
	r.st.Link = h.Carrier()
	r.emit()
	for ctx.Err() == nil {
		if !r.st.Link {
			if !r.waitLink(ctx, true, 0) {
				continue
			}
		}
		if !cfg.DHCP {
			r.applyStatic(*static, "")
			r.waitLink(ctx, false, 0)
			continue
		}
		lease, err := r.acquire(ctx)
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			if static != nil {
				if r.st.Mode != ModeStatic {
					r.applyStatic(*static, "dhcp: "+err.Error())
				}
			} else {
				r.st.Error = "dhcp: " + err.Error()
				r.emit()
			}
			r.waitLink(ctx, false, cfg.Retry)
			continue
		}
		r.bound(ctx, lease)
	}
	return ctx.Err()
}

// waitLink waits for the carrier to become up (wantUp) or to go down, for at most limit
// (0: no limit); it reports whether it changed, and emits the change.
func (r *runner) waitLink(ctx context.Context, wantUp bool, limit time.Duration) bool {
	var end <-chan time.Time
	if limit > 0 {
		end = time.After(limit)
	}
	t := time.NewTicker(r.cfg.Poll)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return false
		case <-end:
			return false
		case <-t.C:
			if r.h.Carrier() == wantUp {
				r.st.Link = wantUp
				r.emit()
				return true
			}
		}
	}
}

func (r *runner) applyStatic(su Setup, why string) {
	r.st.Mode, r.st.Server, r.st.RenewAt, r.st.Expires, r.st.NTP = ModeStatic, "", time.Time{}, time.Time{}, nil
	r.setup(su)
	if why != "" && r.st.Error == "" {
		r.st.Error = why
	} else if why != "" {
		r.st.Error = why + "; " + r.st.Error
	}
	r.emit()
}

func (r *runner) setup(su Setup) {
	r.st.Addr, r.st.Gateway, r.st.DNS, r.st.Error = su.Addr.String(), "", strs(su.DNS), ""
	if su.Gateway.IsValid() {
		r.st.Gateway = su.Gateway.String()
	}
	if err := r.h.Apply(su); err != nil {
		r.st.Error = err.Error()
	}
}

func (r *runner) acquire(ctx context.Context) (*nclient4.Lease, error) {
	c, err := r.h.Client()
	if err != nil {
		return nil, err
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(ctx, r.cfg.LeaseTimeout)
	defer cancel()
	return c.Request(ctx, dhcpv4.WithRequestedOptions(dhcpv4.OptionNTPServers))
}

// bound holds a lease: renews it at T1 until the link goes or the lease ends.
func (r *runner) bound(ctx context.Context, l *nclient4.Lease) {
	for {
		su, err := leaseSetup(l)
		if err != nil {
			r.st.Error = err.Error()
			r.emit()
			return
		}
		lifetime := l.ACK.IPAddressLeaseTime(time.Hour)
		t1 := l.ACK.IPAddressRenewalTime(lifetime / 2)
		expires := l.CreationTime.Add(lifetime)
		r.st.Mode, r.st.Server = ModeDHCP, l.ACK.ServerIdentifier().String()
		r.st.RenewAt, r.st.Expires = l.CreationTime.Add(t1), expires
		r.st.NTP = strs(addrs(l.ACK.NTPServers()))
		r.setup(su)
		r.emit()
		wait := time.Until(r.st.RenewAt)
		for {
			if r.waitLink(ctx, false, max(wait, time.Millisecond)) || ctx.Err() != nil {
				return // the link went: take a lease again when it is back
			}
			left := time.Until(expires)
			if left <= 0 {
				r.st.Mode, r.st.Error = ModeNone, "dhcp: lease expired"
				r.emit()
				return
			}
			nl, err := r.renew(ctx, l, left)
			if err == nil {
				l = nl
				break
			}
			r.st.Error = "dhcp renew: " + err.Error()
			r.emit()
			// RFC 2131 4.4.5: again at half the time left, no sooner than a few seconds.
			wait = max(left/2, min(left, 5*time.Second))
		}
	}
}

func (r *runner) renew(ctx context.Context, l *nclient4.Lease, left time.Duration) (*nclient4.Lease, error) {
	c, err := r.h.Client()
	if err != nil {
		return nil, err
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(ctx, min(left, r.cfg.LeaseTimeout))
	defer cancel()
	nl, err := c.Renew(ctx, l, dhcpv4.WithRequestedOptions(dhcpv4.OptionNTPServers))
	if err != nil {
		return nil, err
	}
	nl.CreationTime = time.Now()
	return nl, nil
}
