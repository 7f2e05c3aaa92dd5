package drivers

import (
	"fmt"
	"io"
	"sync"
)

// StreamStatus is the part of a device's status that its Stream keeps.
type StreamStatus struct {
	State State
	// Err is why the port failed, as "kind: read: cause"; nil unless Offline.
	Err error
	// Dropped counts the events lost because the Events channel was full.
	Dropped uint64
}

// ReadFunc reads one port for a device and hands what it makes of it to Stream.Emit. It
// returns the error that ended the port, or anything once halt is closed. A read blocked
// in the port may outlast Halt; what it emits after Halt is dropped.
type ReadFunc func(port io.Reader, halt <-chan struct{}) error

// Stream is the life of a device that reads a port (a scanner, a keypad), whatever the
// bytes mean: the Events channel, the state (Online, Offline, Halted), Reattach and Halt.
// Its guarantees, which each such driver passes on:
//
//   - Start and a successful Reattach report Online and start one goroutine running the
//     ReadFunc on the port; at most one runs per Stream, since Reattach refuses
//     (ErrAttached) until the last one has returned.
//   - When the ReadFunc returns, the device is Offline with its error as the cause, and
//     the port is not read again; Reattach starts on a new port, keeping the Events
//     channel and the counters.
//   - Halt reports Halted and closes the Events channel; no event follows, and Reattach
//     then fails (ErrHalted). Halt does not wait for a read blocked in the port: the port
//     belongs to the caller, who closes it to end the read.
//   - Events never blocks: an event that finds the channel full is dropped and counted in
//     StreamStatus.Dropped.
//
// It is safe for concurrent use.
type Stream[E any] struct {
	kind   string
	read   ReadFunc
	status func(StreamStatus) E
	events chan E
	halt   chan struct{} // closed by Halt

	mu      sync.Mutex
	st      StreamStatus
	halted  bool
	running bool // a ReadFunc has the port
}

// NewStream returns a Stream that reads with read once Start gives it a port. kind
// ("scanner") begins its errors; buffer is the capacity of the Events channel; status
// makes the event that reports a change of state, and is called with the lock Emit holds.
func NewStream[E any](kind string, buffer int, read ReadFunc, status func(StreamStatus) E) *Stream[E] {
	return &Stream[E]{kind: kind, read: read, status: status, events: make(chan E, buffer), halt: make(chan struct{})}
}

// Events returns the channel of the device's events; Halt closes it.
func (s *Stream[E]) Events() <-chan E { return s.events }

// Emit delivers the event that ev returns, unless the Stream is halted; it reports whether
// it called ev. ev runs with the Stream's lock held, so that the counters it updates and
// the status its event carries agree; it must not call the Stream.
func (s *Stream[E]) Emit(ev func(StreamStatus) E) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.halted {
		return false
	}
	s.send(ev(s.st))
	return true
}

// StatusOf returns what status makes of s's current status. status runs with the lock
// Emit holds, so that the counters it reads agree with it; it must not call the Stream.
func StatusOf[E, S any](s *Stream[E], status func(StreamStatus) S) S {
	s.mu.Lock()
	defer s.mu.Unlock()
	return status(s.st)
}

// Halt stops delivering events, reports Halted and closes the Events channel. It is
// idempotent and always nil.
func (s *Stream[E]) Halt() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.halted {
		return nil
	}
	s.halted = true
	close(s.halt)
	s.st.State, s.st.Err = Halted, nil
	s.send(s.status(s.st))
	close(s.events)
	return nil
}

// Start reports Online and starts reading the device's first port.
func (s *Stream[E]) Start(port io.Reader) error { return s.attach("new", port) }

// Reattach starts reading port after the previous port failed (the Stream is Offline).
func (s *Stream[E]) Reattach(port io.Reader) error { return s.attach("reattach", port) }

func (s *Stream[E]) attach(op string, port io.Reader) error {
	if port == nil {
		return fmt.Errorf("%s: %s: %w", s.kind, op, ErrNilPort)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.halted:
		return fmt.Errorf("%s: %s: %w", s.kind, op, ErrHalted)
	case s.running:
		return fmt.Errorf("%s: %s: %w", s.kind, op, ErrAttached)
	}
	s.running = true
	s.st.State, s.st.Err = Online, nil
	s.send(s.status(s.st))
	go s.run(port)
	return nil
}

func (s *Stream[E]) run(port io.Reader) {
	err := s.read(port, s.halt)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.running = false
	if s.halted {
		return
	}
	s.st.State, s.st.Err = Offline, fmt.Errorf("%s: read: %w", s.kind, err)
	s.send(s.status(s.st))
}

// send must be called with s.mu held and s not halted.
func (s *Stream[E]) send(ev E) {
	select {
	case s.events <- ev:
	default:
		s.st.Dropped++
	}
}
