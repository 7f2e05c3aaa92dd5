package techpage

import (
	"encoding/json"
	"io"
	"sync"
	"time"
)

// recentEvents is how many of the till's last events the page shows.
const recentEvents = 20

// EventTap passes the till's events stream (a JSON line a write) on to a writer and keeps
// what the page shows of it: the uplink's state and the last events. It is safe for
// concurrent use.
type EventTap struct {
	w io.Writer // nil: nobody else reads the events

	mu       sync.Mutex
	uplinkAt time.Time // zero: no uplink event yet
	online   bool
	recent   []Event
}

// Event is one of the till's events as the page shows it.
type Event struct {
	At   time.Time
	Kind string
	Line string // the event's JSON line
}

// NewEventTap passes the events on to w (nil: to nobody).
func NewEventTap(w io.Writer) *EventTap { return &EventTap{w: w} }

// Write passes p on and keeps it; w's error is returned.
func (t *EventTap) Write(p []byte) (int, error) {
	var m struct {
		T      string `json:"t"`
		Online *bool  `json:"online"`
	}
	line := string(p)
	for len(line) > 0 && line[len(line)-1] == '\n' {
		line = line[:len(line)-1]
	}
	if json.Unmarshal(p, &m) == nil && m.T != "" {
		now := time.Now()
		t.mu.Lock()
		if m.T == "uplink" && m.Online != nil {
			t.uplinkAt, t.online = now, *m.Online
		}
		if len(t.recent) == recentEvents {
			t.recent = append(t.recent[:0], t.recent[1:]...)
		}
		t.recent = append(t.recent, Event{At: now, Kind: m.T, Line: line})
		t.mu.Unlock()
	}
	if t.w == nil {
		return len(p), nil
	}
	return t.w.Write(p)
}

// Uplink returns the uplink's last reported state; known is false before its first event.
func (t *EventTap) Uplink() (known, online bool, since time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return !t.uplinkAt.IsZero(), t.online, t.uplinkAt
}

// Recent returns the last events, oldest first.
func (t *EventTap) Recent() []Event {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]Event(nil), t.recent...)
}
