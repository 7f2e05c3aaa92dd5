//go:build linux

package netconf

import (
	"encoding/binary"
	"fmt"
	"os"
	"strings"
	"time"
	"unsafe"

	"github.com/insomniacslk/dhcp/dhcpv4/nclient4"
	"golang.org/x/sys/unix"
)

// Linux is an interface of the running kernel: ioctls for flags and address, a
// NETLINK_ROUTE request for the default route, the carrier from sysfs, and DNS written to
// Resolv.
type Linux struct {
	Iface  string
	Resolv string // resolv.conf to write ("" leave DNS alone)
}

func (l *Linux) ioctlFd() (int, error) {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, fmt.Errorf("netconf: socket: %w", err)
	}
	return fd, nil
}

// Up brings lo and the interface up, once the interface exists (within 5 s).
func (l *Linux) Up() error {
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, err := os.Stat("/sys/class/net/" + l.Iface); err == nil {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("netconf: no interface %s", l.Iface)
		}
		time.Sleep(20 * time.Millisecond)
	}
	fd, err := l.ioctlFd()
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	for _, name := range []string{"lo", l.Iface} {
		ifr, err := unix.NewIfreq(name)
		if err != nil {
			return fmt.Errorf("netconf: %s: %w", name, err)
		}
		if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
			return fmt.Errorf("netconf: %s flags: %w", name, err)
		}
		ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
		if err := unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr); err != nil {
			return fmt.Errorf("netconf: %s up: %w", name, err)
		}
	}
	return nil
}

// Carrier reads /sys/class/net/IFACE/carrier.
func (l *Linux) Carrier() bool {
	b, err := os.ReadFile("/sys/class/net/" + l.Iface + "/carrier")
	return err == nil && strings.TrimSpace(string(b)) == "1"
}

// Client is a DHCP client on a raw socket of the interface.
func (l *Linux) Client() (*nclient4.Client, error) {
	// Short attempts, many of them: a discover lost while the link settles costs little.
	return nclient4.New(l.Iface, nclient4.WithTimeout(500*time.Millisecond), nclient4.WithRetry(20))
}

// Apply sets the address and netmask, replaces the default route, and writes resolv.conf.
func (l *Linux) Apply(s Setup) error {
	fd, err := l.ioctlFd()
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq(l.Iface)
	if err != nil {
		return fmt.Errorf("netconf: %w", err)
	}
	if err := ifr.SetInet4Addr(s.Addr.Addr().AsSlice()); err != nil {
		return fmt.Errorf("netconf: %w", err)
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCSIFADDR, ifr); err != nil {
		return fmt.Errorf("netconf: %s address: %w", l.Iface, err)
	}
	var m [4]byte
	for i := 0; i < s.Addr.Bits(); i++ {
		m[i/8] |= 0x80 >> (i % 8)
	}
	ifr.SetInet4Addr(m[:])
	if err := unix.IoctlIfreq(fd, unix.SIOCSIFNETMASK, ifr); err != nil {
		return fmt.Errorf("netconf: %s netmask: %w", l.Iface, err)
	}
	if s.Gateway.IsValid() {
		if err := l.defaultRoute(s.Gateway.As4()); err != nil {
			return err
		}
	}
	if l.Resolv != "" && len(s.DNS) > 0 {
		var b strings.Builder
		for _, d := range s.DNS {
			fmt.Fprintf(&b, "nameserver %s\n", d)
		}
		tmp := l.Resolv + ".tmp"
		if err := os.WriteFile(tmp, []byte(b.String()), 0o644); err != nil {
			return fmt.Errorf("netconf: resolv.conf: %w", err)
		}
		if err := os.Rename(tmp, l.Resolv); err != nil {
			return fmt.Errorf("netconf: resolv.conf: %w", err)
		}
	}
	return nil
}

// defaultRoute replaces the main table's default route with one via gw on the interface
// (RTM_NEWROUTE, NLM_F_CREATE|NLM_F_REPLACE), and waits for the kernel's answer.
func (l *Linux) defaultRoute(gw [4]byte) error {
	ifi, err := ifindex(l.Iface)
	if err != nil {
		return err
	}
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_ROUTE)
	if err != nil {
		return fmt.Errorf("netconf: netlink: %w", err)
	}
	defer unix.Close(fd)
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return fmt.Errorf("netconf: netlink: %w", err)
	}
	rt := unix.RtMsg{Family: unix.AF_INET, Table: unix.RT_TABLE_MAIN, Protocol: unix.RTPROT_BOOT,
		Scope: unix.RT_SCOPE_UNIVERSE, Type: unix.RTN_UNICAST}
	body := unsafe.Slice((*byte)(unsafe.Pointer(&rt)), unix.SizeofRtMsg)
	attr := func(typ uint16, v []byte) []byte {
		a := make([]byte, 4, 8)
		binary.NativeEndian.PutUint16(a[0:], uint16(4+len(v)))
		binary.NativeEndian.PutUint16(a[2:], typ)
		return append(a, v...)
	}
	oif := make([]byte, 4)
	binary.NativeEndian.PutUint32(oif, uint32(ifi))
	payload := append(append(append([]byte{}, body...), attr(unix.RTA_GATEWAY, gw[:])...), attr(unix.RTA_OIF, oif)...)
	msg := make([]byte, unix.SizeofNlMsghdr, unix.SizeofNlMsghdr+len(payload))
	binary.NativeEndian.PutUint32(msg[0:], uint32(unix.SizeofNlMsghdr+len(payload)))
	binary.NativeEndian.PutUint16(msg[4:], unix.RTM_NEWROUTE)
	binary.NativeEndian.PutUint16(msg[6:], unix.NLM_F_REQUEST|unix.NLM_F_ACK|unix.NLM_F_CREATE|unix.NLM_F_REPLACE)
	binary.NativeEndian.PutUint32(msg[8:], 1)
	msg = append(msg, payload...)
	if err := unix.Sendto(fd, msg, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return fmt.Errorf("netconf: default route: %w", err)
	}
	buf := make([]byte, 4096)
	n, _, err := unix.Recvfrom(fd, buf, 0)
	if err != nil {
		return fmt.Errorf("netconf: default route: %w", err)
	}
	if n >= unix.SizeofNlMsghdr+4 && binary.NativeEndian.Uint16(buf[4:]) == unix.NLMSG_ERROR {
		if e := int32(binary.NativeEndian.Uint32(buf[unix.SizeofNlMsghdr:])); e != 0 {
			return fmt.Errorf("netconf: default route via %d.%d.%d.%d: %w", gw[0], gw[1], gw[2], gw[3], unix.Errno(-e))
		}
	}
	return nil
}

func ifindex(name string) (int, error) {
	b, err := os.ReadFile("/sys/class/net/" + name + "/ifindex")
	if err != nil {
		return 0, fmt.Errorf("netconf: %w", err)
	}
	var i int
	if _, err := fmt.Sscanf(string(b), "%d", &i); err != nil {
		return 0, fmt.Errorf("netconf: ifindex of %s: %w", name, err)
	}
	return i, nil
}
