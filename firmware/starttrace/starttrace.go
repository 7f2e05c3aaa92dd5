package starttrace

import (
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

var (
	mu   sync.Mutex
	out  io.Writer     // nil: tracing is off
	t0   time.Time     // when the process was executed, as near as the kernel says
	last time.Time     // the previous mark
	pre  time.Duration // exec to this package's initialiser
)

func init() {
	v := os.Getenv("TILLBOX_TRACE")
	if v == "" || v == "0" {
		return
	}
	now := time.Now()
	if strings.HasPrefix(v, "/") {
		f, err := os.OpenFile(v, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
		if err != nil {
			return
		}
		out = f
	} else {
		out = os.Stderr
	}
	pre = sinceExec()
	t0 = now.Add(-pre)
	last = t0
}

// On reports whether tracing is on.
func On() bool { return out != nil }

// Mark records that phase ended now.
func Mark(phase string) {
	if out == nil {
		return
	}
	now := time.Now()
	mu.Lock()
	defer mu.Unlock()
	fmt.Fprintf(out, "tillbox-trace: +%.1fms %s (+%.1fms)\n", ms(now.Sub(t0)), phase, ms(now.Sub(last)))
	last = now
}

// Span marks the start of phase and returns the mark of its end, for phases that run
// beside others (on their own goroutine): "PHASE started" and "PHASE done".
func Span(phase string) (done func()) {
	if out == nil {
		return func() {}
	}
	start := time.Now()
	Mark(phase + " started")
	return func() {
		now := time.Now()
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintf(out, "tillbox-trace: +%.1fms %s done (took %.1fms)\n", ms(now.Sub(t0)), phase, ms(now.Sub(start)))
	}
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// sinceExec is how long ago the kernel started this process: /proc/self/stat's start time
// (clock ticks after boot; USER_HZ is 100 on every Linux the box runs) against
// /proc/uptime. Zero where either cannot be read.
func sinceExec() time.Duration {
	stat, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		return 0
	}
	// The command name (field 2) may hold spaces; the fields after it follow its ')'.
	i := strings.LastIndexByte(string(stat), ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(stat[i+1:]))
	if len(f) < 20 {
		return 0
	}
	ticks, err := strconv.ParseUint(f[19], 10, 64) // field 22: starttime
	if err != nil {
		return 0
	}
	up, err := os.ReadFile("/proc/uptime")
	if err != nil {
		return 0
	}
	sec, err := strconv.ParseFloat(strings.Fields(string(up))[0], 64)
	if err != nil {
		return 0
	}
	d := time.Duration(sec*float64(time.Second)) - time.Duration(ticks)*(time.Second/100)
	if d < 0 {
		return 0
	}
	return d
}
