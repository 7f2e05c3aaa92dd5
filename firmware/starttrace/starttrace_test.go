package starttrace

import (
	"bytes"
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestMarksArePrintedInOrderWithTheirTimes(t *testing.T) {
	var b bytes.Buffer
	mu.Lock()
	saved := out
	out, t0, last = &b, time.Now(), time.Now()
	mu.Unlock()
	defer func() { mu.Lock(); out = saved; mu.Unlock() }()

	Mark("config loaded")
	done := Span("devices")
	done()
	Mark("READY")
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	want := []*regexp.Regexp{
		regexp.MustCompile(`^tillbox-trace: \+\d+\.\dms config loaded \(\+\d+\.\dms\)$`),
		regexp.MustCompile(`^tillbox-trace: \+\d+\.\dms devices started \(\+\d+\.\dms\)$`),
		regexp.MustCompile(`^tillbox-trace: \+\d+\.\dms devices done \(took \d+\.\dms\)$`),
		regexp.MustCompile(`^tillbox-trace: \+\d+\.\dms READY \(\+\d+\.\dms\)$`),
	}
	if len(lines) != len(want) {
		t.Fatalf("%d lines, want %d:\n%s", len(lines), len(want), b.String())
	}
	for i, re := range want {
		if !re.MatchString(lines[i]) {
			t.Errorf("line %d %q does not match %s", i, lines[i], re)
		}
	}
}

func TestOffCostsNothingAndPrintsNothing(t *testing.T) {
	mu.Lock()
	saved := out
	out = nil
	mu.Unlock()
	defer func() { mu.Lock(); out = saved; mu.Unlock() }()
	if On() {
		t.Fatal("On with no output")
	}
	Mark("x")
	Span("y")()
}

// The process's start is read from /proc (to its 10 ms clock tick): this test process
// started within the hour, and not in the future.
func TestSinceExecIsThisProcesssAge(t *testing.T) {
	d := sinceExec()
	if d < 0 || d > time.Hour {
		t.Fatalf("since exec %s", d)
	}
}
