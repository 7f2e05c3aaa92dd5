package netconf

import (
	"context"
	"net"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/insomniacslk/dhcp/dhcpv4/nclient4"
	"github.com/insomniacslk/dhcp/dhcpv4/server4"
)

// dhcpServer is the library's DHCP server on a loopback UDP socket, handing out one
// address with a short lease; it answers only while on.
type dhcpServer struct {
	conn   *net.UDPConn
	on     atomic.Bool
	acks   atomic.Int64
	lease  time.Duration
	server *server4.Server
}

func startServer(t *testing.T, lease time.Duration) *dhcpServer {
	t.Helper()
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	d := &dhcpServer{conn: c, lease: lease}
	d.on.Store(true)
	s, err := server4.NewServer("", nil, d.handle, server4.WithConn(c))
	if err != nil {
		t.Fatal(err)
	}
	d.server = s
	go s.Serve()
	t.Cleanup(func() { s.Close() })
	return d
}

func (d *dhcpServer) handle(conn net.PacketConn, peer net.Addr, m *dhcpv4.DHCPv4) {
	if !d.on.Load() {
		return
	}
	typ := dhcpv4.MessageTypeOffer
	if m.MessageType() == dhcpv4.MessageTypeRequest {
		typ = dhcpv4.MessageTypeAck
	} else if m.MessageType() != dhcpv4.MessageTypeDiscover {
		return
	}
	resp, err := dhcpv4.NewReplyFromRequest(m,
		dhcpv4.WithMessageType(typ),
		dhcpv4.WithYourIP(net.IPv4(192, 168, 7, 50)),
		dhcpv4.WithNetmask(net.CIDRMask(24, 32)),
		dhcpv4.WithRouter(net.IPv4(192, 168, 7, 1)),
		dhcpv4.WithDNS(net.IPv4(192, 168, 7, 2)),
		dhcpv4.WithOption(dhcpv4.OptNTPServers(net.IPv4(192, 168, 7, 3))),
		dhcpv4.WithOption(dhcpv4.OptServerIdentifier(net.IPv4(192, 168, 7, 1))),
		dhcpv4.WithOption(dhcpv4.OptIPAddressLeaseTime(d.lease)),
		dhcpv4.WithOption(dhcpv4.OptRenewTimeValue(d.lease/2)))
	if err != nil {
		return
	}
	// An ACK is counted before it goes out: the client may act on it before WriteTo returns.
	if typ == dhcpv4.MessageTypeAck {
		d.acks.Add(1)
	}
	if _, err := conn.WriteTo(resp.ToBytes(), peer); err != nil && typ == dhcpv4.MessageTypeAck {
		d.acks.Add(-1)
	}
}

// fakeHost is an interface whose carrier the test sets and whose setups it records; its
// DHCP client talks to the server over loopback.
type fakeHost struct {
	server  *net.UDPAddr
	carrier atomic.Bool
	mu      sync.Mutex
	applied []Setup
}

func (h *fakeHost) Up() error     { return nil }
func (h *fakeHost) Carrier() bool { return h.carrier.Load() }
func (h *fakeHost) Apply(s Setup) error {
	h.mu.Lock()
	h.applied = append(h.applied, s)
	h.mu.Unlock()
	return nil
}
func (h *fakeHost) Client() (*nclient4.Client, error) {
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return nil, err
	}
	return nclient4.NewWithConn(c, net.HardwareAddr{2, 0, 0, 0, 0, 1},
		nclient4.WithServerAddr(h.server), nclient4.WithTimeout(200*time.Millisecond), nclient4.WithRetry(2))
}

// states collects what Run reports and waits for a state.
type states struct {
	mu  sync.Mutex
	all []State
	ch  chan struct{}
	pos int // waits look at states after the last one matched

}

func newStates() *states { return &states{ch: make(chan struct{}, 1000)} }
func (s *states) report(st State) {
	s.mu.Lock()
	s.all = append(s.all, st)
	s.mu.Unlock()
	s.ch <- struct{}{}
}

func (s *states) wait(t *testing.T, what string, ok func(State) bool) State {
	t.Helper()
	deadline := time.After(10 * time.Second)
	s.mu.Lock()
	i := s.pos
	s.mu.Unlock()
	for {
		s.mu.Lock()
		for ; i < len(s.all); i++ {
			if ok(s.all[i]) {
				st := s.all[i]
				s.pos = i + 1
				s.mu.Unlock()
				return st
			}
		}
		s.mu.Unlock()
		select {
		case <-s.ch:
		case <-deadline:
			s.mu.Lock()
			defer s.mu.Unlock()
			t.Fatalf("no state %s; got %+v", what, s.all)
		}
	}
}

var static = &Static{Addr: "10.9.0.20/24", Gateway: "10.9.0.1", DNS: []string{"10.9.0.53"}}

func run(t *testing.T, cfg Config, h *fakeHost) *states {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	s := newStates()
	go func() { done <- Run(ctx, cfg, h, s.report) }()
	t.Cleanup(func() { cancel(); <-done })
	return s
}

func TestLeaseRenewedAtT1(t *testing.T) {
	srv := startServer(t, 2*time.Second)
	h := &fakeHost{server: srv.conn.LocalAddr().(*net.UDPAddr)}
	h.carrier.Store(true)
	s := run(t, Config{Iface: "eth0", DHCP: true, Static: static, LeaseTimeout: time.Second, Poll: 20 * time.Millisecond}, h)
	st := s.wait(t, "dhcp", func(s State) bool { return s.Mode == ModeDHCP })
	if st.Addr != "192.168.7.50/24" || st.Gateway != "192.168.7.1" || !slices.Equal(st.DNS, []string{"192.168.7.2"}) ||
		!slices.Equal(st.NTP, []string{"192.168.7.3"}) || st.Server != "192.168.7.1" || !st.Link {
		t.Fatalf("lease state %+v", st)
	}
	if d := st.RenewAt.Sub(st.Expires); d > -900*time.Millisecond || d < -1100*time.Millisecond {
		t.Fatalf("T1 %v, expiry %v: want T1 a second before", st.RenewAt, st.Expires)
	}
	first := st.Expires
	// At T1 (1 s) the lease is renewed: a second ACK and a later expiry.
	st = s.wait(t, "renewed", func(s State) bool { return s.Mode == ModeDHCP && s.Expires.After(first) })
	if srv.acks.Load() < 2 {
		t.Fatalf("%d ACKs after a renewal", srv.acks.Load())
	}
	h.mu.Lock()
	want := netip.MustParsePrefix("192.168.7.50/24")
	if len(h.applied) < 2 || h.applied[0].Addr != want || h.applied[0].Gateway != netip.MustParseAddr("192.168.7.1") {
		t.Fatalf("applied %+v", h.applied)
	}
	h.mu.Unlock()
}

func TestStaticFallbackThenLease(t *testing.T) {
	srv := startServer(t, time.Hour)
	srv.on.Store(false) // no DHCP server on the network
	h := &fakeHost{server: srv.conn.LocalAddr().(*net.UDPAddr)}
	h.carrier.Store(true)
	start := time.Now()
	s := run(t, Config{Iface: "eth0", DHCP: true, Static: static, LeaseTimeout: 300 * time.Millisecond,
		Retry: 300 * time.Millisecond, Poll: 20 * time.Millisecond}, h)
	st := s.wait(t, "static", func(s State) bool { return s.Mode == ModeStatic })
	if st.Addr != "10.9.0.20/24" || st.Gateway != "10.9.0.1" || !slices.Equal(st.DNS, []string{"10.9.0.53"}) || st.Error == "" {
		t.Fatalf("fallback state %+v", st)
	}
	if e := time.Since(start); e < 300*time.Millisecond {
		t.Fatalf("fell back after %s, before the lease timeout", e)
	}
	// A DHCP server appears: its lease replaces the fallback.
	srv.on.Store(true)
	st = s.wait(t, "dhcp after static", func(s State) bool { return s.Mode == ModeDHCP })
	if st.Addr != "192.168.7.50/24" || st.Error != "" {
		t.Fatalf("lease after fallback %+v", st)
	}
}

func TestLinkDownAndBack(t *testing.T) {
	srv := startServer(t, time.Hour)
	h := &fakeHost{server: srv.conn.LocalAddr().(*net.UDPAddr)}
	s := run(t, Config{Iface: "eth0", DHCP: true, LeaseTimeout: time.Second, Poll: 20 * time.Millisecond}, h)
	s.wait(t, "no link", func(s State) bool { return !s.Link && s.Mode == ModeNone })
	time.Sleep(100 * time.Millisecond)
	if srv.acks.Load() != 0 {
		t.Fatal("DHCP without a carrier")
	}
	h.carrier.Store(true)
	s.wait(t, "dhcp", func(s State) bool { return s.Link && s.Mode == ModeDHCP })
	h.carrier.Store(false)
	s.wait(t, "link lost", func(s State) bool { return !s.Link })
	h.carrier.Store(true)
	s.wait(t, "second lease", func(s State) bool { return s.Link && s.Mode == ModeDHCP && srv.acks.Load() == 2 })
}

func TestStaticOnlyAndBadConfig(t *testing.T) {
	h := &fakeHost{}
	h.carrier.Store(true)
	s := run(t, Config{Iface: "eth0", Static: static, Poll: 20 * time.Millisecond}, h)
	s.wait(t, "static", func(s State) bool { return s.Mode == ModeStatic && s.Addr == "10.9.0.20/24" && s.Error == "" })
	for _, bad := range []*Static{{Addr: "10.9.0.20"}, {Addr: "10.9.0.20/24", Gateway: "10.8.0.1"}, {Addr: "10.9.0.20/24", DNS: []string{"x"}}} {
		if err := Run(context.Background(), Config{Iface: "eth0", Static: bad}, h, nil); err == nil {
			t.Errorf("Run with static %+v: no error", bad)
		}
	}
	if err := Run(context.Background(), Config{Iface: "eth0"}, h, nil); err == nil {
		t.Error("Run with neither DHCP nor static: no error")
	}
}
