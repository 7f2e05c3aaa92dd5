package rig

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// takenPort binds a loopback port without listening on it and without SO_REUSEADDR, as
// an outgoing connection's local port is held: a server's bind to it fails with "address
// already in use", and a connect to it is refused.
func takenPort(t *testing.T) int {
	t.Helper()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Close(fd) })
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	return sa.(*syscall.SockaddrInet4).Port
}

// firstPortTaken makes the next pick of a port return a taken one, and counts the picks.
func firstPortTaken(t *testing.T) (taken int, picks *int) {
	taken = takenPort(t)
	n, real := 0, pickPort
	pickPort = func() (int, error) {
		n++
		if n == 1 {
			return taken, nil
		}
		return real()
	}
	t.Cleanup(func() { pickPort = real })
	return taken, &n
}

// A broker and a database server whose first port is taken before they bind it are
// started again on another port.
func TestServersStartAgainWhenTheirPortIsTaken(t *testing.T) {
	t.Run("mosquitto", func(t *testing.T) {
		taken, picks := firstPortTaken(t)
		m := StartMosquitto(t, nil)
		if m.Addr == fmt.Sprintf("127.0.0.1:%d", taken) || *picks != 2 {
			t.Fatalf("broker on %s after %d picks; port %d was taken", m.Addr, *picks, taken)
		}
		c, err := net.Dial("tcp", m.Addr)
		if err != nil {
			t.Fatal(err)
		}
		c.Close()
		if b, _ := os.ReadFile(m.proc.Log); strings.Contains(strings.ToLower(string(b)), "address already in use") {
			t.Errorf("the failed try's log was kept:\n%s", b)
		}
	})
	t.Run("postgres", func(t *testing.T) {
		taken, picks := firstPortTaken(t)
		pg := StartPostgres(t)
		if strings.Contains(pg.URL, fmt.Sprintf(":%d/", taken)) || *picks != 2 {
			t.Fatalf("server at %s after %d picks; port %d was taken", pg.URL, *picks, taken)
		}
		ctx := context.Background()
		conn, err := pgx.Connect(ctx, pg.URL)
		if err != nil {
			t.Fatal(err)
		}
		conn.Close(ctx)
	})
	t.Run("not a port", func(t *testing.T) {
		// Any other failure is not tried again.
		calls := 0
		ft := &fatalTB{TB: t}
		func() {
			defer func() { recover() }()
			startOnFreePorts(ft, "nothing", func() ([]string, error) {
				calls++
				return nil, fmt.Errorf("bad configuration")
			}, func() {})
		}()
		if calls != 1 || !strings.Contains(ft.msg, "bad configuration") {
			t.Fatalf("%d tries, fatal %q", calls, ft.msg)
		}
	})
}

// fatalTB records a Fatalf and stops the caller with a panic.
type fatalTB struct {
	testing.TB
	msg string
}

func (f *fatalTB) Fatalf(format string, args ...any) {
	f.msg = fmt.Sprintf(format, args...)
	panic(f.msg)
}

// deadPID is the pid of a process that has exited.
func deadPID(t *testing.T) int {
	t.Helper()
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	return cmd.Process.Pid
}

// The reaper removes what a killed run left and nothing a running test uses: a
// PostgreSQL directory whose owner is gone (its server stopped first), an unmarked one
// left alone long enough, a scratch directory of a dead process; not a directory of a
// live owner, a fresh unmarked one, nor an old unmarked one a process still works in.
func TestReapLeftovers(t *testing.T) {
	root := t.TempDir()
	now := time.Now()
	old := now.Add(-2 * unmarkedAge)
	mk := func(name, owner string, age time.Time) string {
		d := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Join(d, "data"), 0o755); err != nil {
			t.Fatal(err)
		}
		if owner != "" {
			if err := os.WriteFile(filepath.Join(d, ownerFile), []byte(owner), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		for _, p := range []string{filepath.Join(d, "data"), filepath.Join(d, ownerFile), d} {
			os.Chtimes(p, age, age)
		}
		return d
	}
	dead := deadPID(t)
	self, err := procStart(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	deadOwner := fmt.Sprintf("%d 1\n", dead)
	// A dead postmaster's pid file in a dead owner's directory.
	killed := mk("rig-pg-killed", deadOwner, now)
	os.WriteFile(filepath.Join(killed, "data", "postmaster.pid"), fmt.Appendf(nil, "%d\n%s\n", dead, killed), 0o600)
	// This process's pid with another start time: the pid was given again.
	reused := mk("rig-pg-reused", fmt.Sprintf("%d 1\n", os.Getpid()), now)
	live := mk("rig-pg-live", fmt.Sprintf("%d %s\n", os.Getpid(), self), old)
	storm := mk("storm-dead", deadOwner, now)
	fresh := mk("rig-pg-fresh", "", now)
	unmarked := mk("rig-pg-unmarked", "", old)
	busy := mk("storm-busy", "", old)
	sleeper := exec.Command("sleep", "60")
	sleeper.Dir = busy
	if err := sleeper.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sleeper.Process.Kill(); sleeper.Wait() })

	for _, c := range []struct {
		dir    string
		reaped bool
	}{{killed, true}, {reused, true}, {live, false}, {storm, true}, {fresh, false}, {unmarked, true}, {busy, false}} {
		got, err := reapDir(c.dir, now)
		if err != nil {
			t.Errorf("%s: %v", c.dir, err)
		}
		_, statErr := os.Stat(c.dir)
		if got != c.reaped || os.IsNotExist(statErr) != c.reaped {
			t.Errorf("%s: reaped %v (exists: %v), want %v", filepath.Base(c.dir), got, statErr == nil, c.reaped)
		}
	}

	// A real server left running by a run that was killed: stopped, then removed.
	pg := StartPostgres(t)
	pid := pg.Postmaster(t)
	if reaped, _ := reapDir(pg.dir, time.Now()); reaped {
		t.Fatal("the running test's own server was reaped")
	}
	if err := os.WriteFile(filepath.Join(pg.dir, ownerFile), []byte(deadOwner), 0o644); err != nil {
		t.Fatal(err)
	}
	if got, err := reapDir(pg.dir, time.Now()); !got || err != nil {
		t.Fatalf("a dead run's server: reaped %v, %v", got, err)
	}
	if _, err := procStart(pid); err == nil {
		t.Errorf("postmaster %d still runs", pid)
	}
	if _, err := os.Stat(pg.dir); !os.IsNotExist(err) {
		t.Errorf("%s still there: %v", pg.dir, err)
	}
}
