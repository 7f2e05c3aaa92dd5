package devlinks

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// Listener receives kernel uevents. Open it before Coldplug and Serve after, so that a
// device plugged in between is not missed (Handle of the same add twice is harmless).
type Listener struct{ fd int }

// Open opens a NETLINK_KOBJECT_UEVENT socket subscribed to the kernel's group.
func Open() (*Listener, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, unix.NETLINK_KOBJECT_UEVENT)
	if err != nil {
		return nil, fmt.Errorf("devlinks: uevent socket: %w", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK, Groups: 1}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("devlinks: uevent bind: %w", err)
	}
	unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, 1<<20)
	return &Listener{fd: fd}, nil
}

// Serve passes each kernel uevent to handle until the socket fails.
func (l *Listener) Serve(handle func(Event)) error {
	buf := make([]byte, 16<<10)
	for {
		n, _, err := unix.Recvfrom(l.fd, buf, 0)
		if err == unix.EINTR || err == unix.ENOBUFS {
			continue
		}
		if err != nil {
			return fmt.Errorf("devlinks: uevent receive: %w", err)
		}
		if ev, err := Parse(buf[:n]); err == nil {
			handle(ev)
		}
	}
}
