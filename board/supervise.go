package board

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"tillbox/drivers"
)

// line is one device's hold on its port: the port the driver reads and writes, why the
// device is down when it is, and the supervisor goroutine that reopens the port and hands
// it to the driver. The board owns every port; drivers only borrow them.
type line struct {
	name  string // device name: "printer"
	where string // what the port is, for health and logs: "/dev/ttyS0", "sim"
	log   *slog.Logger
	t     timing

	// open opens the port; ctx ends when the Set closes (a TCP dial waits on it).
	open func(ctx context.Context) (port, error)
	// attach gives the driver a new port (its Reattach).
	attach func(port) error
	// stale asks the driver whether it has given up on the port (a scanner Offline after a
	// failed read, a printer silent for too long, a display Offline after a write that
	// timed out and so never failed the port); nil error means the port is in use.
	// The supervisor calls it every Poll.
	stale func() error
	// onDown, if set, is told each cause of the device being down, outside the line's lock.
	onDown func(error)

	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}

	mu     sync.Mutex
	port   port  // the current port, attached or about to be; nil while down
	up     bool  // port is attached to the driver
	reason error // why the device is down
	since  time.Time
	opened int // ports attached since Open, for tests and logs
}

// timing is the supervisor's clockwork, from Options.
type timing struct {
	retryMin, retryMax, poll time.Duration
}

func newLine(name, where string, log *slog.Logger, t timing, open func(context.Context) (port, error)) *line {
	ctx, cancel := context.WithCancel(context.Background())
	return &line{name: name, where: where, log: log, t: t, open: open, ctx: ctx, cancel: cancel,
		done: make(chan struct{}), since: time.Now()}
}

// firstOpen opens the port once, at Open, so that a missing device is reported with its
// cause as soon as Open returns. It never retries; the supervisor does.
func (l *line) firstOpen() (port, error) {
	w, err := l.open(l.ctx)
	if err != nil {
		l.setDown(err)
		return nil, err
	}
	l.mu.Lock()
	l.port = w
	l.mu.Unlock()
	return w, nil
}

// start runs the supervisor. w is the port firstOpen returned (nil if it failed) and
// attached says whether the driver already has it.
func (l *line) start(w port, attached bool) {
	if w != nil && attached {
		l.setUp(w)
	}
	go l.run(w, attached)
}

func (l *line) run(w port, attached bool) {
	defer close(l.done)
	delay := l.t.retryMin
	for {
		if w == nil {
			if w = l.reopen(&delay); w == nil {
				return // the Set is closing
			}
			attached = false
		}
		upAt := time.Now()
		var cause error
		if !attached {
			// A driver that refuses the port (a display whose init write fails) has a port
			// that does not work: down, and opened again after the backoff.
			cause = l.attachPort(w)
			if cause == nil {
				l.setUp(w)
			}
		}
		if cause == nil {
			if cause = l.watch(w); cause == nil {
				return
			}
		}
		if l.ctx.Err() != nil {
			return
		}
		w.Close() // ends the driver's blocked Read on the old port before a new one comes
		l.setDown(cause)
		w, attached = nil, false
		if time.Since(upAt) > l.t.retryMax {
			delay = l.t.retryMin // it had been working: try again soon
		}
	}
}

// reopen tries to open the port, with capped exponential backoff and jitter, until it
// succeeds (the new port) or the Set closes (nil). The first try also waits, so that a
// port that fails as soon as it opens cannot make the supervisor spin.
func (l *line) reopen(delay *time.Duration) port {
	for {
		d := *delay/2 + rand.N(*delay/2+1)
		*delay = min(*delay*2, l.t.retryMax)
		select {
		case <-l.ctx.Done():
			return nil
		case <-time.After(d):
		}
		w, err := l.open(l.ctx)
		if err != nil {
			l.setDown(err)
			continue
		}
		l.mu.Lock()
		if l.ctx.Err() != nil { // closed while opening: the Set no longer owns ports
			l.mu.Unlock()
			w.Close()
			return nil
		}
		l.port = w
		l.mu.Unlock()
		return w
	}
}

// attachPort hands w to the driver. A scanner or keypad refuses while it is still reading
// the old port (it has not yet seen the read error the closed port gives it), so that
// refusal is retried until the driver catches up.
func (l *line) attachPort(w port) error {
	for {
		err := l.attach(w)
		if err == nil || !errors.Is(err, drivers.ErrAttached) {
			return err
		}
		select {
		case <-l.ctx.Done():
			return l.ctx.Err()
		case <-time.After(l.t.poll / 10):
		}
	}
}

// watch waits until the port fails, the driver gives up on it, or the Set closes (nil).
func (l *line) watch(w port) error {
	t := time.NewTicker(l.t.poll)
	defer t.Stop()
	for {
		select {
		case <-l.ctx.Done():
			return nil
		case <-w.failed():
			return w.err()
		case <-t.C:
			if l.stale != nil {
				if err := l.stale(); err != nil {
					return err
				}
			}
		}
	}
}

func (l *line) setUp(w port) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.port, l.up, l.reason, l.since = w, true, nil, time.Now()
	l.opened++
	l.log.Info("board: device online", "device", l.name, "port", l.where, "attach", l.opened)
}

// setDown records why the device is down. Each new cause is logged once, so a device
// that stays unplugged does not fill the log with retries.
func (l *line) setDown(err error) {
	if l.onDown != nil {
		defer l.onDown(err)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.up || l.reason == nil || l.reason.Error() != err.Error() {
		l.log.Warn("board: device offline", "device", l.name, "port", l.where, "cause", err)
	}
	if l.up || l.reason == nil {
		l.since = time.Now()
	}
	l.port, l.up, l.reason = nil, false, err
}

// state reports whether the device has an open port and, if not, why and since when. A
// port being handed to the driver counts as open: the driver may already be using it
// (a printer prints as soon as Reattach has swapped the port in, before Reattach returns),
// and the driver's own status says whether the device answers on it.
func (l *line) state() (open bool, reason error, since time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.port != nil, l.reason, l.since
}

// attaches counts the ports attached to the driver since Open.
func (l *line) attaches() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.opened
}

// stop ends the supervisor and waits for it, then closes the port. The caller halts the
// driver in between if the driver must stop before its port goes (stop(false) then
// closePort()).
func (l *line) stopSupervisor() {
	l.cancel()
	<-l.done
}

func (l *line) closePort() error {
	l.mu.Lock()
	w := l.port
	l.port, l.up = nil, false
	l.mu.Unlock()
	if w == nil {
		return nil
	}
	return w.Close()
}

// port is what a line holds: a stream (watched) or an I2C bus (watchedBus). It records
// its first failure, which is how the supervisor learns of an unplugged device at once
// rather than at its next status poll.
type port interface {
	// Close closes the port once; later calls return the first result.
	Close() error
	// failed is closed at the port's first failed read, write or transaction, or at Close.
	failed() <-chan struct{}
	// err is that first failure.
	err() error
}

// failure records a port's first failure.
type failure struct {
	once  sync.Once
	ch    chan struct{}
	mu    sync.Mutex
	cause error
}

func newFailure() *failure { return &failure{ch: make(chan struct{})} }

func (f *failure) fail(err error) {
	f.once.Do(func() {
		f.mu.Lock()
		f.cause = err
		f.mu.Unlock()
		close(f.ch)
	})
}

func (f *failure) failed() <-chan struct{} { return f.ch }

func (f *failure) err() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.cause
}

// watched is a stream port: a tty, a device file, a TCP connection, a sim cable.
type watched struct {
	*failure
	rw     io.ReadWriteCloser
	closed sync.Once
	cerr   error
}

func watch(rw io.ReadWriteCloser) *watched {
	return &watched{failure: newFailure(), rw: rw}
}

// stream adapts an opener of streams to a line's opener.
func stream(open func(context.Context) (io.ReadWriteCloser, error)) func(context.Context) (port, error) {
	return func(ctx context.Context) (port, error) {
		rw, err := open(ctx)
		if err != nil {
			return nil, err
		}
		return watch(rw), nil
	}
}

func (w *watched) Read(b []byte) (int, error) {
	n, err := w.rw.Read(b)
	if err != nil {
		w.fail(fmt.Errorf("read: %w", err))
	}
	return n, err
}

func (w *watched) Write(b []byte) (int, error) {
	n, err := w.rw.Write(b)
	if err != nil {
		w.fail(fmt.Errorf("write: %w", err))
	}
	return n, err
}

// Close closes the port once; later calls return the first result.
func (w *watched) Close() error {
	w.closed.Do(func() {
		w.fail(errors.New("closed by the board"))
		w.cerr = w.rw.Close()
	})
	return w.cerr
}

// deadPort stands in for a port that could not be opened, so that a driver exists (and
// its Events channel with it) from Open on: every Read and Write fails with the cause, the
// driver reports itself offline, and the supervisor's Reattach brings the real port.
type deadPort struct{ err error }

func (d deadPort) Read([]byte) (int, error)  { return 0, d.err }
func (d deadPort) Write([]byte) (int, error) { return 0, d.err }
