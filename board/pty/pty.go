package pty

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// Pair is an open pseudo-terminal: Master is the device side, SlavePath the port a driver opens.
type Pair struct {
	Master    *os.File
	SlavePath string
}

// Open allocates a new pty pair. The line is put in raw mode so that bytes pass unchanged
// (no echo, no CR/LF translation) until the opener sets its own mode.
func Open() (*Pair, error) {
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("pty: open /dev/ptmx: %w", err)
	}
	fd := int(m.Fd())
	if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil {
		m.Close()
		return nil, fmt.Errorf("pty: unlock: %w", err)
	}
	n, err := unix.IoctlGetInt(fd, unix.TIOCGPTN)
	if err != nil {
		m.Close()
		return nil, fmt.Errorf("pty: slave number: %w", err)
	}
	p := &Pair{Master: m, SlavePath: fmt.Sprintf("/dev/pts/%d", n)}
	if err := p.makeRaw(); err != nil {
		m.Close()
		return nil, err
	}
	return p, nil
}

// makeRaw clears echo and line processing so that a fake reading the master sees exactly
// the bytes the driver wrote.
func (p *Pair) makeRaw() error {
	fd := int(p.Master.Fd())
	t, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		return fmt.Errorf("pty: get termios: %w", err)
	}
	t.Iflag &^= unix.IGNBRK | unix.BRKINT | unix.PARMRK | unix.ISTRIP | unix.INLCR | unix.IGNCR | unix.ICRNL | unix.IXON
	t.Oflag &^= unix.OPOST
	t.Lflag &^= unix.ECHO | unix.ECHONL | unix.ICANON | unix.ISIG | unix.IEXTEN
	t.Cflag &^= unix.CSIZE | unix.PARENB
	t.Cflag |= unix.CS8
	t.Cc[unix.VMIN] = 1
	t.Cc[unix.VTIME] = 0
	if err := unix.IoctlSetTermios(fd, unix.TCSETS, t); err != nil {
		return fmt.Errorf("pty: set raw: %w", err)
	}
	return nil
}

// Close closes the master; a driver holding the slave then reads EOF or EIO, as it would
// from an unplugged USB serial adapter.
func (p *Pair) Close() error { return p.Master.Close() }
