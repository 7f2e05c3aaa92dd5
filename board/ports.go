package board

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"time"

	"go.bug.st/serial"
	"golang.org/x/sys/unix"
)

// This file is where the till's device files are opened. Every opener returns an
// io.ReadWriteCloser that the board owns: drivers get it (wrapped) and never close it.

// openSerial opens a tty at baud, 8N1, without read timeout: the drivers keep a reader
// blocked in Read, and closing the port is what ends it.
func openSerial(path string, baud int) (io.ReadWriteCloser, error) {
	p, err := serial.Open(path, &serial.Mode{BaudRate: baud, DataBits: 8, Parity: serial.NoParity, StopBits: serial.OneStopBit})
	if err != nil {
		return nil, fmt.Errorf("open %s at %d baud: %w", path, baud, err)
	}
	return p, nil
}

// openFile opens a character device read-write (a USB printer class file). os.OpenFile
// registers it with the runtime poller where the driver supports poll, so that Close
// ends a blocked Read.
func openFile(path string, flag int) (*os.File, error) {
	f, err := os.OpenFile(path, flag|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err // an *os.PathError: "open <path>: <cause>"
	}
	return f, nil
}

// eviocgrab is EVIOCGRAB, _IOW('E', 0x90, int) (include/uapi/linux/input.h): while
// grabbed, the device's events go to this file only, so a wedge scanner's codes and the
// keypad's keys never reach a console or another reader.
const eviocgrab = 1<<30 | 4<<16 | 'E'<<8 | 0x90

// openEvdev opens an input event device and grabs it.
func openEvdev(path string) (io.ReadWriteCloser, error) {
	f, err := openFile(path, os.O_RDONLY)
	if err != nil {
		return nil, err
	}
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("grab %s: %w", path, err)
	}
	// Through SyscallConn, not Fd(): Fd would switch the file to blocking mode, and then
	// Close could no longer end a Read blocked in it.
	var grabErr error
	if err := rc.Control(func(fd uintptr) { grabErr = unix.IoctlSetInt(int(fd), eviocgrab, 1) }); err != nil {
		grabErr = err
	}
	if grabErr != nil {
		f.Close()
		return nil, fmt.Errorf("grab %s (EVIOCGRAB): %w", path, grabErr)
	}
	return readOnly{f}, nil
}

// readOnly is a device the till only reads (scanner, keypad); a write is a bug.
type readOnly struct{ io.ReadCloser }

func (readOnly) Write([]byte) (int, error) { return 0, errors.New("read-only device") }

// dialTimeout bounds one connection attempt to a network printer.
const dialTimeout = 3 * time.Second

// dialTCP connects to a network printer. ctx ends the attempt when the Set closes.
func dialTCP(ctx context.Context, addr string) (io.ReadWriteCloser, error) {
	d := net.Dialer{Timeout: dialTimeout, KeepAlive: 15 * time.Second}
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", addr, err)
	}
	return c, nil
}
