package rig

import (
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Postgres is a throwaway PostgreSQL server on an ephemeral loopback port.
type Postgres struct {
	// URL connects as the superuser postgres to the database postgres.
	URL string
	dir string
}

func pgBin(t testing.TB, name string) string {
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	m, _ := filepath.Glob("/usr/lib/postgresql/*/bin/" + name)
	if len(m) == 0 {
		t.Skipf("rig: PostgreSQL %s not installed (run scripts/deps.sh)", name)
	}
	return m[len(m)-1]
}

// StartPostgres runs initdb in a temp dir (/tmp/rig-pg-*, marked as this test process's)
// and starts the server, on new ports again when its port was taken meanwhile; it is
// stopped (immediate mode) and its directory removed by t.Cleanup, or reaped by a later
// run when this one is killed. initdb refuses root, so as root the server runs as the
// postgres system user.
func StartPostgres(t testing.TB) *Postgres {
	t.Helper()
	initdb, pgctl := pgBin(t, "initdb"), pgBin(t, "pg_ctl")
	reapLeftovers(t)
	dir, err := os.MkdirTemp("", "rig-pg-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := markOwner(dir); err != nil {
		t.Fatalf("rig: %v", err)
	}
	asUser := func(args ...string) *exec.Cmd { return exec.Command(args[0], args[1:]...) }
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			t.Skip("rig: running as root and there is no postgres user to run PostgreSQL as")
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chmod(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(dir, uid, gid); err != nil {
			t.Fatal(err)
		}
		asUser = func(args ...string) *exec.Cmd {
			return exec.Command("runuser", append([]string{"-u", "postgres", "--"}, args...)...)
		}
	}
	data := filepath.Join(dir, "data")
	if out, err := asUser(initdb, "-D", data, "-U", "postgres", "-A", "trust", "--no-sync", "-E", "UTF8").CombinedOutput(); err != nil {
		t.Fatalf("rig: initdb: %v\n%s", err, out)
	}
	t.Cleanup(func() {
		asUser(pgctl, "-D", data, "-m", "immediate", "-w", "-t", "20", "stop").Run()
	})
	log := filepath.Join(dir, "server.log")
	var port int
	startOnFreePorts(t, "postgres", func() ([]string, error) {
		port = FreePort(t)
		opts := fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c max_connections=50 -c shared_buffers=64MB", port, dir)
		if out, err := asUser(pgctl, "-D", data, "-l", log, "-o", opts, "-w", "-t", "30", "start").CombinedOutput(); err != nil {
			return []string{log}, fmt.Errorf("pg_ctl start: %v\n%s\n%s", err, out, Tail(log, 20))
		}
		return []string{log}, WaitListening(fmt.Sprintf("127.0.0.1:%d", port), 10*time.Second)
	}, func() { os.Remove(log) })
	return &Postgres{URL: fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", port), dir: dir}
}

// Postmaster is the pid of the server's postmaster (the parent of its backends).
func (p *Postgres) Postmaster(t testing.TB) int {
	t.Helper()
	pid, err := postmasterPID(filepath.Join(p.dir, "data"))
	if err != nil {
		t.Fatalf("rig: %v", err)
	}
	return pid
}

// postmasterPID reads the pid of the postmaster of a data directory from its
// postmaster.pid (absent when no server runs there).
func postmasterPID(data string) (int, error) {
	b, err := os.ReadFile(filepath.Join(data, "postmaster.pid"))
	if err != nil {
		return 0, err
	}
	first, _, _ := strings.Cut(string(b), "\n")
	pid, err := strconv.Atoi(strings.TrimSpace(first))
	if err != nil || pid <= 0 {
		return 0, fmt.Errorf("%s/postmaster.pid: no pid in %q", data, first)
	}
	return pid, nil
}
