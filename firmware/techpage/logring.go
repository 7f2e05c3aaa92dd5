package techpage

import (
	"context"
	"log/slog"
	"strings"
	"sync"
)

// maxLogLine bounds one kept log line; a longer one is cut and marked with "…".
const maxLogLine = 1000

// LogRing keeps the last lines of the process's log for the page. It is safe for
// concurrent use.
type LogRing struct {
	mu    sync.Mutex
	lines []string
	next  int // where the next line goes once lines is full
	n     int
}

// NewLogRing keeps the last n lines (at least 1).
func NewLogRing(n int) *LogRing {
	return &LogRing{n: max(n, 1)}
}

// Lines returns the kept lines, oldest first.
func (r *LogRing) Lines() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]string, 0, len(r.lines))
	out = append(out, r.lines[r.next:]...)
	return append(out, r.lines[:r.next]...)
}

// Write takes whole lines, as slog's text handler writes them: one record a call.
func (r *LogRing) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, l := range strings.Split(strings.TrimRight(string(p), "\n"), "\n") {
		if l == "" {
			continue
		}
		if len(l) > maxLogLine {
			l = l[:maxLogLine] + "…"
		}
		if len(r.lines) < r.n {
			r.lines = append(r.lines, l)
			continue
		}
		r.lines[r.next] = l
		r.next = (r.next + 1) % r.n
	}
	return len(p), nil
}

// Handler returns a handler that hands each record to inner and also keeps it, in slog's
// text format at level Info and above, in the ring. inner's result is the handler's.
func (r *LogRing) Handler(inner slog.Handler) slog.Handler {
	return &ringHandler{inner: inner, ring: slog.NewTextHandler(r, nil)}
}

type ringHandler struct {
	inner, ring slog.Handler
}

func (h *ringHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.inner.Enabled(ctx, l) || h.ring.Enabled(ctx, l)
}

func (h *ringHandler) Handle(ctx context.Context, rec slog.Record) error {
	if h.ring.Enabled(ctx, rec.Level) {
		h.ring.Handle(ctx, rec)
	}
	if h.inner.Enabled(ctx, rec.Level) {
		return h.inner.Handle(ctx, rec)
	}
	return nil
}

func (h *ringHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return &ringHandler{inner: h.inner.WithAttrs(as), ring: h.ring.WithAttrs(as)}
}

func (h *ringHandler) WithGroup(name string) slog.Handler {
	return &ringHandler{inner: h.inner.WithGroup(name), ring: h.ring.WithGroup(name)}
}
