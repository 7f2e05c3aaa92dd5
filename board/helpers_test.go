package board

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"tillbox/drivers/drawer"
	"tillbox/drivers/keypad"
	"tillbox/drivers/scanner"
)

// patience bounds every wait for a condition. Conditions are met in milliseconds; the
// bound only turns a hang into a failure on a loaded machine.
const patience = 10 * time.Second

// fastOptions make supervisors retry and poll quickly, so reattach tests take
// milliseconds, and keep the log quiet unless the test fails.
func fastOptions(t *testing.T) *Options {
	return &Options{
		Logger:   slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug})),
		RetryMin: 20 * time.Millisecond,
		RetryMax: 200 * time.Millisecond,
		Poll:     50 * time.Millisecond,
	}
}

// testWriter sends log lines to t.Log, so that they show only for a failing test.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Helper()
	w.t.Log(string(b))
	return len(b), nil
}

// open opens p and closes the Set at the end of the test.
func open(t *testing.T, p Profile, o *Options) *Set {
	t.Helper()
	s, err := Open(p, o)
	if err != nil {
		t.Fatalf("Open(%s): %v", p.Name, err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

func openSim(t *testing.T) *Set {
	t.Helper()
	p, err := Lookup("sim")
	if err != nil {
		t.Fatal(err)
	}
	return open(t, p, fastOptions(t))
}

// waitFor polls cond until it holds or patience runs out.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(patience)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// health returns the named device's entry.
func health(t *testing.T, s *Set, name string) DeviceHealth {
	t.Helper()
	for _, h := range s.Health() {
		if h.Name == name {
			return h
		}
	}
	t.Fatalf("Health has no %s: %+v", name, s.Health())
	return DeviceHealth{}
}

func waitHealth(t *testing.T, s *Set, name, state string) DeviceHealth {
	t.Helper()
	var h DeviceHealth
	waitFor(t, name+" "+state, func() bool { h = health(t, s, name); return h.State == state })
	return h
}

// next reads events from ch until one satisfies match.
func next[E any](t *testing.T, what string, ch <-chan E, match func(E) bool) E {
	t.Helper()
	timeout := time.NewTimer(patience)
	defer timeout.Stop()
	for {
		select {
		case e, ok := <-ch:
			if !ok {
				t.Fatalf("events closed while waiting for %s", what)
			}
			if match(e) {
				return e
			}
		case <-timeout.C:
			t.Fatalf("gave up waiting for %s", what)
		}
	}
}

func nextScan(t *testing.T, d *scanner.Dev) scanner.Scan {
	t.Helper()
	return next(t, "a scan", d.Events(), func(e scanner.Event) bool { return e.Kind == scanner.EventScan }).Scan
}

func nextPress(t *testing.T, d *keypad.Dev) keypad.Press {
	t.Helper()
	return next(t, "a key press", d.Events(), func(e keypad.Event) bool { return e.Kind == keypad.EventPress }).Press
}

func nextDrawer(t *testing.T, d *drawer.Dev, k drawer.EventKind) drawer.Event {
	t.Helper()
	return next(t, "drawer "+k.String(), d.Events(), func(e drawer.Event) bool { return e.Kind == k })
}

// printCtx bounds a Print in a test.
func printCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	t.Cleanup(cancel)
	return ctx
}

var _ io.Writer = testWriter{}
