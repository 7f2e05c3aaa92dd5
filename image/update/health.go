package update

import (
	"context"
	"encoding/json"
	"fmt"
	"time"
)

// ReadyEvent is the till's event that says its start finished: the ledger opened and
// verified, the board's devices opened, the uplink started, the operator prompt shown
// (the run loop's first "operator" line; see firmware/app).
const ReadyEvent = "operator"

// Health decides whether a tried firmware is healthy, from the JSON event lines of
// `tillbox run --events` and the process's exit.
type Health struct {
	// Limit bounds the wait for ReadyEvent.
	Limit time.Duration
	// Alive is how long the run loop must keep running after ReadyEvent.
	Alive time.Duration
}

// Wait returns nil when ReadyEvent came within Limit and the process was still running
// Alive later, and an error wrapping ErrUnhealthy otherwise. events carries one line per
// event; exited receives the process's exit (nil or the error).
func (h Health) Wait(ctx context.Context, events <-chan []byte, exited <-chan error) error {
	limit := time.NewTimer(h.Limit)
	defer limit.Stop()
	var alive <-chan time.Time
	for {
		select {
		case <-ctx.Done():
			return fmt.Errorf("update: health: %w: %w", ErrUnhealthy, ctx.Err())
		case err := <-exited:
			return fmt.Errorf("update: health: %w: the till exited: %v", ErrUnhealthy, err)
		case <-limit.C:
			if alive == nil {
				return fmt.Errorf("update: health: %w: not ready within %s", ErrUnhealthy, h.Limit)
			}
		case line, ok := <-events:
			if !ok {
				events = nil // the till closed its events: it is on its way out, exited tells
				continue
			}
			var ev struct {
				T string `json:"t"`
			}
			if alive == nil && json.Unmarshal(line, &ev) == nil && ev.T == ReadyEvent {
				t := time.NewTimer(h.Alive)
				defer t.Stop()
				alive = t.C
			}
		case <-alive:
			return nil
		}
	}
}
