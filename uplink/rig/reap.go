package rig

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Leftovers of killed runs. A test killed with -9 (a timeout, a kill of its run) never
// runs its cleanups: its PostgreSQL server goes on (pg_ctl detached it) in /tmp/rig-pg-*,
// and the scratch directories it made stay, on tmpfs in memory. The rig reaps them when it
// next starts one, once per test process, and never what a running test still uses: other
// test processes run on this machine at the same time.
//
// A directory the rig makes holds an owner mark: the pid and start time of the test
// process that made it. It is reaped once that process is gone (a pid taken again by
// another process has another start time), its server stopped first. A directory without
// the mark (made by an older rig, or by a test with os.MkdirTemp) is reaped only when no
// process has it or a file in it open, as its working directory or mapped (a running
// PostgreSQL server has its working directory in its data directory) and nothing in it
// has changed for unmarkedAge: a test that is creating it has not marked it yet.

// ownerFile is the owner mark's name in a directory the rig made.
const ownerFile = "rig-owner"

// unmarkedAge is how long an unmarked directory must have been left alone before it is
// reaped.
const unmarkedAge = 30 * time.Minute

// Reap roots: where the rig's PostgreSQL data directories and scratch directories are.
var (
	pgGlob      = filepath.Join(os.TempDir(), "rig-pg-*")
	scratchGlob = "/dev/shm/storm-*"
	reapOnce    sync.Once
)

// reapLeftovers reaps, once per process, what killed runs left.
func reapLeftovers(t testing.TB) {
	reapOnce.Do(func() {
		for _, g := range []string{pgGlob, scratchGlob} {
			dirs, _ := filepath.Glob(g)
			for _, d := range dirs {
				if reaped, err := reapDir(d, time.Now()); err != nil {
					t.Logf("rig: leftover %s: %v", d, err)
				} else if reaped {
					t.Logf("rig: removed %s, left by a run that is gone", d)
				}
			}
		}
	})
}

// ScratchDir makes a directory under root (e.g. /dev/shm, tmpfs) named prefix plus a
// random part, marked as this test process's and removed by t.Cleanup; a killed run's is
// reaped by a later one.
func ScratchDir(t testing.TB, root, prefix string) string {
	t.Helper()
	reapLeftovers(t)
	d, err := os.MkdirTemp(root, prefix)
	if err != nil {
		t.Fatalf("rig: scratch dir: %v", err)
	}
	t.Cleanup(func() { os.RemoveAll(d) })
	if err := markOwner(d); err != nil {
		t.Fatalf("rig: %v", err)
	}
	return d
}

// procStart is the start time of process pid (in clock ticks after boot, /proc's field
// 22), which tells it from a later process given the same pid; a process that has exited
// (a zombie included) has none.
func procStart(pid int) (string, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return "", err
	}
	// pid (comm) state ppid ...: comm may hold spaces and parentheses.
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	if len(f) < 20 {
		return "", fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f))
	}
	if f[0] == "Z" || f[0] == "X" {
		return "", fmt.Errorf("process %d has exited", pid)
	}
	return f[19], nil
}

// markOwner writes dir's owner mark: this process.
func markOwner(dir string) error {
	start, err := procStart(os.Getpid())
	if err != nil {
		return fmt.Errorf("owner mark: %w", err)
	}
	return os.WriteFile(filepath.Join(dir, ownerFile), fmt.Appendf(nil, "%d %s\n", os.Getpid(), start), 0o644)
}

// ownerGone reads dir's owner mark: marked, and whether the process that made it is gone.
func ownerGone(dir string) (marked, gone bool) {
	b, err := os.ReadFile(filepath.Join(dir, ownerFile))
	if err != nil {
		return false, false
	}
	var pid int
	var start string
	if _, err := fmt.Sscan(string(b), &pid, &start); err != nil || pid <= 0 {
		return false, false
	}
	now, err := procStart(pid)
	return true, err != nil || now != start
}

// reapDir removes dir if it is a leftover (see above), stopping the PostgreSQL server
// of its data directory first. It reports whether it removed it.
func reapDir(dir string, now time.Time) (bool, error) {
	marked, gone := ownerGone(dir)
	switch {
	case marked && !gone:
		return false, nil
	case !marked && (changedSince(dir, now.Add(-unmarkedAge)) || inUse(dir)):
		return false, nil
	}
	if err := stopPostmaster(filepath.Join(dir, "data")); err != nil {
		return false, err
	}
	return true, os.RemoveAll(dir)
}

// changedSince says whether dir or anything in it was modified after t.
func changedSince(dir string, t time.Time) bool {
	changed := false
	filepath.Walk(dir, func(_ string, fi os.FileInfo, err error) error {
		if err == nil && fi.ModTime().After(t) {
			changed = true
			return filepath.SkipAll
		}
		return nil
	})
	return changed
}

// inUse says whether a process has dir, or a file below it, as its working directory, an
// open file or a mapping.
func inUse(dir string) bool {
	under := func(p string) bool { return p == dir || strings.HasPrefix(p, dir+"/") }
	procs, _ := filepath.Glob("/proc/[0-9]*")
	for _, p := range procs {
		if cwd, err := os.Readlink(p + "/cwd"); err == nil && under(cwd) {
			return true
		}
		fds, _ := os.ReadDir(p + "/fd")
		for _, fd := range fds {
			if l, err := os.Readlink(p + "/fd/" + fd.Name()); err == nil && under(l) {
				return true
			}
		}
		if maps, err := os.ReadFile(p + "/maps"); err == nil && bytes.Contains(maps, []byte(dir+"/")) {
			return true
		}
	}
	return false
}

// stopPostmaster stops the PostgreSQL server running in the data directory data, if one
// does: SIGQUIT (an immediate shutdown, which ends its backends), then SIGKILL after 10 s.
// The pid in postmaster.pid is signalled only while that process's working directory is
// data: a pid of a server long gone may be another process's by now.
func stopPostmaster(data string) error {
	pid, err := postmasterPID(data)
	if err != nil {
		return nil // no server ran there, or it exited and removed its pid file
	}
	if real, err := filepath.EvalSymlinks(data); err == nil {
		data = real
	}
	if cwd, err := os.Readlink(fmt.Sprintf("/proc/%d/cwd", pid)); err != nil || cwd != data {
		return nil
	}
	alive := func() bool { _, err := procStart(pid); return err == nil }
	syscall.Kill(pid, syscall.SIGQUIT)
	for deadline := time.Now().Add(10 * time.Second); alive(); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			syscall.Kill(pid, syscall.SIGKILL)
			time.Sleep(200 * time.Millisecond)
			if alive() {
				return fmt.Errorf("postmaster %d of %s does not stop", pid, data)
			}
		}
	}
	return nil
}
