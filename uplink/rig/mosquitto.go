package rig

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// MosquittoOptions shape the broker's configuration.
type MosquittoOptions struct {
	// Persistence keeps retained messages and sessions across a restart (saved on a clean
	// stop; a kill -9 loses what was not autosaved, as in the field).
	Persistence bool
	// Extra lines appended to the configuration (max_inflight_messages, ...).
	Extra []string
	// Template, when set, replaces the plain anonymous listener: a configuration in which
	// {{PORT}} is the chosen port and {{DIR}} the broker's temp dir (the shipped TLS
	// configuration with its paths and port rewritten). Log, user and persistence lines
	// are still added.
	Template string
}

// Mosquitto is a broker on an ephemeral loopback port.
type Mosquitto struct {
	Addr string
	dir  string
	proc *Proc
	t    testing.TB
}

// MosquittoPath is where the broker binary is looked for after PATH.
const MosquittoPath = "/usr/sbin/mosquitto"

// StartMosquitto starts a broker with its own configuration in a temp dir. The test is
// skipped when Mosquitto is not installed (scripts/deps.sh installs it).
func StartMosquitto(t testing.TB, o *MosquittoOptions) *Mosquitto {
	t.Helper()
	if o == nil {
		o = &MosquittoOptions{}
	}
	bin, err := exec.LookPath("mosquitto")
	if err != nil {
		bin = MosquittoPath
	}
	if _, err := os.Stat(bin); err != nil {
		t.Skip("rig: mosquitto not installed (run scripts/deps.sh)")
	}
	dir := t.TempDir()
	m := &Mosquitto{dir: dir, t: t}
	startOnFreePorts(t, "mosquitto", func() ([]string, error) {
		port := strconv.Itoa(FreePort(t))
		m.Addr = "127.0.0.1:" + port
		conf := []string{"listener " + port + " 127.0.0.1", "allow_anonymous true"}
		if o.Template != "" {
			conf = []string{strings.NewReplacer("{{PORT}}", port, "{{DIR}}", dir).Replace(o.Template)}
		}
		conf = append(conf, "log_dest stderr", "log_type error", "log_type warning", "log_type notice", "log_type information")
		if os.Geteuid() == 0 {
			// Mosquitto drops privileges to its own user, which cannot write a test's dir.
			conf = append(conf, "user root")
		}
		if o.Persistence {
			conf = append(conf, "persistence true", "persistence_location "+dir+"/", "autosave_interval 1")
		} else {
			conf = append(conf, "persistence false")
		}
		conf = append(conf, o.Extra...)
		path := filepath.Join(dir, "mosquitto.conf")
		if err := os.WriteFile(path, []byte(strings.Join(conf, "\n")+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		m.proc = StartProc(t, "mosquitto", dir, exec.Command(bin, "-c", path))
		return []string{m.proc.Log}, m.proc.WaitListening(m.Addr, 10*time.Second)
	}, func() {
		m.proc.Kill()
		os.Remove(m.proc.Log)
	})
	return m
}

func (m *Mosquitto) waitUp() {
	m.t.Helper()
	if err := m.proc.WaitListening(m.Addr, 10*time.Second); err != nil {
		m.t.Fatal(err)
	}
}

// Dir is the broker's temp dir, where a Template's files go.
func (m *Mosquitto) Dir() string { return m.dir }

// URL is the broker's client URL.
func (m *Mosquitto) URL() string { return "tcp://" + m.Addr }

// Kill stops the broker with SIGKILL.
func (m *Mosquitto) Kill() { m.proc.Kill() }

// Stop stops the broker cleanly (it saves its persistence file when it has one).
func (m *Mosquitto) Stop() { m.proc.Stop(10 * time.Second) }

// Reload makes the running broker read its configuration again (SIGHUP), as
// `systemctl reload mosquitto` does: the ACL file, and the listeners' certificates and
// CRL for the connections that follow. It returns once the broker has logged the reload.
func (m *Mosquitto) Reload() {
	m.t.Helper()
	before := reloads(m.proc.Log)
	if err := m.proc.Signal(syscall.SIGHUP); err != nil {
		m.t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for reloads(m.proc.Log) == before {
		if time.Now().After(deadline) {
			m.t.Fatalf("mosquitto did not log a reload\n%s", Tail(m.proc.Log, 20))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// reloads counts the reloads the broker logged so far.
func reloads(log string) int {
	b, _ := os.ReadFile(log)
	return strings.Count(string(b), "Reloading config")
}

// Start starts the broker again on the same port and waits until it listens.
func (m *Mosquitto) Start() {
	m.t.Helper()
	m.proc.Restart()
	m.waitUp()
}
