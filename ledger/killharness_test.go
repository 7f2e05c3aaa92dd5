package ledger

import (
	"bufio"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The kill -9 harness of the crash tests: a child (this test binary in a mode, see
// TestMain) works on a ledger and reports each step on stdout once it returned, "ready"
// first, then lines "word N" (or a bare word); the parent kills it with SIGKILL and
// checks the ledger against what it reported.

// soakOr is short in the default run and long under `make soak` (TILLBOX_SOAK set).
func soakOr(short, long int) int {
	if os.Getenv("TILLBOX_SOAK") != "" {
		return long
	}
	return short
}

// killChild is one child run: Ready is closed at its "ready" line, Reported at its first
// report after it.
type killChild struct {
	t               *testing.T
	cycle           int
	cmd             *exec.Cmd
	Ready, Reported chan struct{}
	lines           chan []string
}

// startChild starts the child of mode on path and reads its reports.
func startChild(t *testing.T, cycle int, mode, path string) *killChild {
	t.Helper()
	c := &killChild{t: t, cycle: cycle, cmd: childCmd(t, mode, path), Ready: make(chan struct{}), Reported: make(chan struct{}),
		lines: make(chan []string, 1)}
	out, err := c.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		var got []string
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if sc.Text() == "ready" {
				close(c.Ready)
				continue
			}
			if len(got) == 0 {
				close(c.Reported)
			}
			got = append(got, sc.Text())
		}
		c.lines <- got
	}()
	return c
}

// wait waits, at most 30 s, until ch (Ready or Reported) is closed, or kills the child and
// fails.
func (c *killChild) wait(ch <-chan struct{}, what string) {
	c.t.Helper()
	select {
	case <-ch:
	case <-time.After(30 * time.Second):
		c.cmd.Process.Kill()
		c.t.Fatalf("cycle %d: child never %s", c.cycle, what)
	}
}

// killAfter kills the child with SIGKILL after d and returns its reports: the numbers of
// each word's "word N" lines in order, and how often each of the bare words came (any
// other line fails the test).
func (c *killChild) killAfter(d time.Duration, bare ...string) (nums map[string][]uint64, words map[string]int) {
	c.t.Helper()
	time.Sleep(d)
	c.cmd.Process.Signal(syscall.SIGKILL)
	c.cmd.Wait()
	nums, words = map[string][]uint64{}, map[string]int{}
	for _, ln := range <-c.lines {
		f := strings.Fields(ln)
		if len(f) == 1 && slices.Contains(bare, f[0]) {
			words[f[0]]++
			continue
		}
		if len(f) != 2 {
			c.t.Fatalf("cycle %d: child said %q", c.cycle, ln)
		}
		n, err := strconv.ParseUint(f[1], 10, 64)
		if err != nil {
			c.t.Fatalf("cycle %d: child said %q", c.cycle, ln)
		}
		nums[f[0]] = append(nums[f[0]], n)
	}
	return nums, words
}

// maxOf is the largest of m and ns.
func maxOf(m uint64, ns []uint64) uint64 {
	for _, n := range ns {
		m = max(m, n)
	}
	return m
}
