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

	"tillbox/drivers/keypad"
	"tillbox/drivers/scanner"
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
	open func(ctx context.Context) (io.ReadWriteCloser, error)
	// attach gives the driver a new port (its Reattach).
	attach func(io.ReadWriter) error
	// stale asks the driver whether it has given up on the port (a scanner Offline after a
	// failed read, a printer silent for too long); nil error means the port is in use.
	// The supervisor calls it every Poll.
	stale func() error

	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}

	mu     sync.Mutex
	port   *watched // the current port, attached or about to be; nil while down
	up     bool     // port is attached to the driver
	reason error    // why the device is down
	since  time.Time
	opened int // ports attached since Open, for tests and logs
}

// timing is the supervisor's clockwork, from Options.
type timing struct {
	retryMin, retryMax, poll time.Duration
}

func newLine(name, where string, log *slog.Logger, t timing, open func(context.Context) (io.ReadWriteCloser, error)) *line {
	ctx, cancel := context.WithCancel(context.Background())
	return &line{name: name, where: where, log: log, t: t, open: open, ctx: ctx, cancel: cancel,
		done: make(chan struct{}), since: time.Now()}
}

// firstOpen opens the port once, at Open, so that a missing device is reported with its
// cause as soon as Open returns. It never retries; the supervisor does.
func (l *line) firstOpen() (*watched, error) {
	rw, err := l.open(l.ctx)
	if err != nil {
		l.setDown(err)
		return nil, err
	}
	w := watch(rw)
	l.mu.Lock()
	l.port = w
	l.mu.Unlock()
	return w, nil
}

// start runs the supervisor. w is the port firstOpen returned (nil if it failed) and
// attached says whether the driver already has it.
func (l *line) start(w *watched, attached bool) {
	if w != nil && attached {
		l.setUp(w)
	}
	go l.run(w, attached)
}

func (l *line) run(w *watched, attached bool) {
	defer close(l.done)
	delay := l.t.retryMin
	for {
		if w == nil {
			if w = l.reopen(&delay); w == nil {
				return // the Set is closing
			}
			attached = false
		}
		if !attached {
			if err := l.attachPort(w); err != nil {
				if l.ctx.Err() == nil {
					l.log.Error("board: reattach", "device", l.name, "err", err)
				}
				return
			}
			l.setUp(w)
		}
		upAt := time.Now()
		cause := l.watch(w)
		if cause == nil {
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
func (l *line) reopen(delay *time.Duration) *watched {
	for {
		d := *delay/2 + rand.N(*delay/2+1)
		*delay = min(*delay*2, l.t.retryMax)
		select {
		case <-l.ctx.Done():
			return nil
		case <-time.After(d):
		}
		rw, err := l.open(l.ctx)
		if err != nil {
			l.setDown(err)
			continue
		}
		w := watch(rw)
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
func (l *line) attachPort(w *watched) error {
	for {
		err := l.attach(w)
		if err == nil || !(errors.Is(err, scanner.ErrAttached) || errors.Is(err, keypad.ErrAttached)) {
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
func (l *line) watch(w *watched) error {
	t := time.NewTicker(l.t.poll)
	defer t.Stop()
	for {
		select {
		case <-l.ctx.Done():
			return nil
		case <-w.failed:
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

func (l *line) setUp(w *watched) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.port, l.up, l.reason, l.since = w, true, nil, time.Now()
	l.opened++
	l.log.Info("board: device online", "device", l.name, "port", l.where, "attach", l.opened)
}

// setDown records why the device is down. Each new cause is logged once, so a device
// that stays unplugged does not fill the log with retries.
func (l *line) setDown(err error) {
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

// state reports whether the port is attached and, if not, why and since when.
func (l *line) state() (up bool, reason error, since time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.up, l.reason, l.since
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

// watched wraps a port and records its first failure, which is how the supervisor learns
// of an unplugged device at once rather than at its next status poll.
type watched struct {
	rw     io.ReadWriteCloser
	failed chan struct{}
	once   sync.Once
	mu     sync.Mutex
	cause  error
	closed sync.Once
	cerr   error
}

func watch(rw io.ReadWriteCloser) *watched {
	return &watched{rw: rw, failed: make(chan struct{})}
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

func (w *watched) fail(err error) {
	w.once.Do(func() {
		w.mu.Lock()
		w.cause = err
		w.mu.Unlock()
		close(w.failed)
	})
}

func (w *watched) err() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.cause
}

// deadPort stands in for a port that could not be opened, so that a driver exists (and
// its Events channel with it) from Open on: every Read and Write fails with the cause, the
// driver reports itself offline, and the supervisor's Reattach brings the real port.
type deadPort struct{ err error }

func (d deadPort) Read([]byte) (int, error)  { return 0, d.err }
func (d deadPort) Write([]byte) (int, error) { return 0, d.err }
