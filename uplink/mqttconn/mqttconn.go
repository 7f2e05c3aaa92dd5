package mqttconn

import (
	"bufio"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"sync"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
)

// ErrScheme is returned for a broker URL whose scheme Open does not dial.
var ErrScheme = errors.New("unsupported broker scheme")

const (
	// readBuffer holds many small packets (a PUBACK is 4 bytes) or a few PUBLISHes.
	readBuffer = 32 << 10
	// maxPending is how many bytes Write queues before it waits for the socket.
	maxPending = 64 << 10
	// defaultWriteTimeout bounds a socket write when the client sets no write timeout.
	defaultWriteTimeout = 30 * time.Second
	// closeFlush bounds how long Close spends sending what is still queued (the
	// DISCONNECT packet, typically) before it closes the socket anyway.
	closeFlush = time.Second
)

// Open dials the broker at uri as o says (TLS configuration, connect timeout, dialer,
// write timeout) and returns the connection with buffered reads and coalesced writes.
func Open(uri *url.URL, o mqtt.ClientOptions) (net.Conn, error) { return openConn(uri, o, 0) }

// openConn is Open whose connection fails a read when nothing arrives for idle (when
// positive).
func openConn(uri *url.URL, o mqtt.ClientOptions, idle time.Duration) (net.Conn, error) {
	d := net.Dialer{Timeout: 30 * time.Second}
	if o.Dialer != nil {
		d = *o.Dialer
	}
	if o.ConnectTimeout > 0 && (d.Timeout == 0 || o.ConnectTimeout < d.Timeout) {
		d.Timeout = o.ConnectTimeout
	}
	var (
		nc  net.Conn
		err error
	)
	switch uri.Scheme {
	case "tcp", "mqtt":
		nc, err = d.Dial("tcp", uri.Host)
	case "unix":
		path := uri.Host
		if path == "" {
			path = uri.Path
		}
		nc, err = d.Dial("unix", path)
	case "ssl", "tls", "mqtts", "mqtt+ssl", "tcps":
		nc, err = tls.DialWithDialer(&d, "tcp", uri.Host, o.TLSConfig)
	default:
		return nil, fmt.Errorf("mqttconn: %w %q (want tcp, mqtt, unix, ssl, tls, mqtts, mqtt+ssl or tcps)", ErrScheme, uri.Scheme)
	}
	if err != nil {
		return nil, err
	}
	timeout := o.WriteTimeout
	if timeout <= 0 {
		timeout = defaultWriteTimeout
	}
	return newConn(nc, timeout, idle), nil
}

// conn is a net.Conn whose reads go through a buffer and whose writes are queued and
// sent by one flusher goroutine: writes made while the flusher is in a system call go
// out together in its next one. An idle connection sends a write at once.
type conn struct {
	net.Conn
	r       *bufio.Reader
	timeout time.Duration // bounds each socket write

	mu      sync.Mutex
	wake    sync.Cond // the flusher waits here for bytes or Close
	room    sync.Cond // writers wait here while maxPending bytes are queued
	pending []byte
	err     error     // the first write error: every later Write returns it
	closing bool      // Close was called
	closeBy time.Time // when Close gives up flushing
	flushed chan struct{}
}

func newConn(nc net.Conn, timeout, idle time.Duration) *conn {
	r := quickAcker(nc)
	if idle > 0 {
		r = &idleReader{nc: nc, r: r, idle: idle}
	}
	c := &conn{Conn: nc, r: bufio.NewReaderSize(r, readBuffer), timeout: timeout, flushed: make(chan struct{})}
	c.wake.L, c.room.L = &c.mu, &c.mu
	go c.flush()
	return c
}

func (c *conn) Read(p []byte) (int, error) { return c.r.Read(p) }

// Write queues p. It returns the error of an earlier failed write, if any (the connection
// is then closed, and what was queued after it is not sent), and waits while the queue is
// full; the socket write's timeout bounds that wait.
func (c *conn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for len(c.pending) >= maxPending && c.err == nil && !c.closing {
		c.room.Wait()
	}
	switch {
	case c.err != nil:
		return 0, c.err
	case c.closing:
		return 0, net.ErrClosed
	}
	c.pending = append(c.pending, p...)
	c.wake.Signal()
	return len(p), nil
}

// flush sends what is queued until Close or a write error.
func (c *conn) flush() {
	defer close(c.flushed)
	var out []byte
	c.mu.Lock()
	for {
		for len(c.pending) == 0 && !c.closing {
			c.wake.Wait()
		}
		if len(c.pending) == 0 {
			c.mu.Unlock()
			return
		}
		out, c.pending = c.pending, out[:0]
		deadline := time.Now().Add(c.timeout)
		if c.closing && c.closeBy.Before(deadline) {
			deadline = c.closeBy
		}
		c.room.Broadcast()
		c.mu.Unlock()
		err := c.Conn.SetWriteDeadline(deadline)
		if err == nil {
			_, err = c.Conn.Write(out)
		}
		c.mu.Lock()
		if err != nil {
			c.err = fmt.Errorf("mqttconn: write: %w", err)
			c.pending = nil
			c.room.Broadcast()
			c.mu.Unlock()
			c.Conn.Close() // the reader fails too, and the client sees the connection lost
			return
		}
	}
}

// Close sends what is still queued, waits for the peer to close its side, both for at
// most closeFlush, and closes the socket. It may be called more than once.
func (c *conn) Close() error {
	c.mu.Lock()
	if !c.closing {
		c.closing = true
		c.closeBy = time.Now().Add(closeFlush)
		c.Conn.SetWriteDeadline(c.closeBy) // also cuts short a write under way
		c.wake.Broadcast()
		c.room.Broadcast()
		c.mu.Unlock()
		<-c.flushed
		c.mu.Lock()
		failed := c.err != nil
		c.mu.Unlock()
		if !failed {
			c.drain()
		}
		return c.Conn.Close()
	}
	c.mu.Unlock()
	<-c.flushed
	return nil
}

// drain half-closes the connection and reads until the peer closes its side, within
// closeBy. Closing a socket with unread bytes (PUBACKs still arriving) makes the kernel
// reset it, and a reset can discard what the peer had not read yet: the DISCONNECT just
// sent, so that the broker would publish the client's last will after a clean goodbye.
func (c *conn) drain() {
	cw, ok := c.Conn.(interface{ CloseWrite() error })
	if !ok || c.Conn.SetReadDeadline(c.closeBy) != nil || cw.CloseWrite() != nil {
		return
	}
	_, _ = io.Copy(io.Discard, c.Conn)
}

// idleReader fails a read from the socket that waits longer than idle: a session that
// hears nothing at all from its broker for that long is lost.
type idleReader struct {
	nc   net.Conn
	r    io.Reader
	idle time.Duration
}

func (d *idleReader) Read(p []byte) (int, error) {
	if err := d.nc.SetReadDeadline(time.Now().Add(d.idle)); err != nil {
		return 0, err
	}
	n, err := d.r.Read(p)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		err = fmt.Errorf("mqttconn: nothing received from the broker for %v: %w", d.idle, err)
	}
	return n, err
}

// SetDeadline sets the read deadline; write deadlines are the per-write timeout's.
func (c *conn) SetDeadline(t time.Time) error { return c.Conn.SetReadDeadline(t) }

// SetWriteDeadline does nothing: a queued write has no deadline of its own, its socket
// write has the connection's write timeout.
func (c *conn) SetWriteDeadline(time.Time) error { return nil }
