package rig

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// FreePort returns a loopback port that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	port, err := pickPort()
	if err != nil {
		t.Fatalf("rig: free port: %v", err)
	}
	return port
}

// pickPort picks the ports FreePort returns; a test of the rig replaces it to hand out a
// port that is taken.
var pickPort = func() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// portAttempts is how many times a server is started on newly picked ports.
const portAttempts = 3

// startOnFreePorts runs start, which picks its ports with FreePort and starts a server on
// them, again while it fails because one of them was taken before the server bound it
// (a port picked free can be taken meanwhile by any process's listener or outgoing
// connection, whose local port comes from the same range), portAttempts times at most.
// start returns the server's logs, where a failed bind shows; undo removes what a failed
// try left (its process stopped, its log gone).
func startOnFreePorts(t testing.TB, what string, start func() (logs []string, err error), undo func()) {
	t.Helper()
	for attempt := 1; ; attempt++ {
		logs, err := start()
		if err == nil {
			return
		}
		if attempt < portAttempts && portTaken(logs) {
			t.Logf("rig: %s: a port was taken before the server bound it; starting it again on new ports", what)
			undo()
			continue
		}
		t.Fatalf("rig: %s: %v", what, err)
	}
}

// portTaken says whether a log tells of a bind to a port in use.
func portTaken(logs []string) bool {
	for _, l := range logs {
		if b, err := os.ReadFile(l); err == nil && bytes.Contains(bytes.ToLower(b), []byte("address already in use")) {
			return true
		}
	}
	return false
}

// WaitListening waits until addr accepts TCP connections, at most d.
func WaitListening(addr string, d time.Duration) error {
	deadline := time.Now().Add(d)
	for {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("rig: %s not listening after %s: %w", addr, d, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// WaitListening waits until addr accepts TCP connections, at most d, and fails at once
// when the process exits first (it could not bind its port, or its configuration is bad).
func (p *Proc) WaitListening(addr string, d time.Duration) error {
	deadline := time.Now().Add(d)
	for {
		err := WaitListening(addr, 200*time.Millisecond)
		switch {
		case err == nil:
			return nil
		case p.Exited():
			return fmt.Errorf("rig: %s exited before it listened on %s\n%s", p.Name, addr, Tail(p.Log, 20))
		case time.Now().After(deadline):
			return fmt.Errorf("%w\n%s", err, Tail(p.Log, 20))
		}
	}
}

// Proc is a child process whose output goes to a log file.
type Proc struct {
	t    testing.TB
	Name string
	Log  string // path of the combined stdout and stderr
	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
	err  error
}

// StartProc starts cmd with its output in a log file under dir and registers its stop
// with t.Cleanup. The log's tail is printed when the test fails.
func StartProc(t testing.TB, name, dir string, cmd *exec.Cmd) *Proc {
	t.Helper()
	p := &Proc{t: t, Name: name, Log: filepath.Join(dir, name+".log")}
	p.start(cmd)
	t.Cleanup(func() {
		p.Kill()
		if t.Failed() {
			t.Logf("%s log tail:\n%s", name, Tail(p.Log, 40))
		}
	})
	return p
}

func (p *Proc) start(cmd *exec.Cmd) {
	f, err := os.OpenFile(p.Log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		p.t.Fatalf("rig: %s: %v", p.Name, err)
	}
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		f.Close()
		p.t.Fatalf("rig: start %s: %v", p.Name, err)
	}
	done := make(chan struct{})
	p.mu.Lock()
	p.cmd, p.done = cmd, done
	p.mu.Unlock()
	go func() {
		err := cmd.Wait()
		f.Close()
		p.mu.Lock()
		p.err = err
		p.mu.Unlock()
		close(done)
	}()
}

// Restart starts a new process from a fresh copy of the command (same path, args, env).
func (p *Proc) Restart() {
	p.mu.Lock()
	old := p.cmd
	p.mu.Unlock()
	p.Kill()
	cmd := exec.Command(old.Path, old.Args[1:]...)
	cmd.Env, cmd.Dir = old.Env, old.Dir
	p.start(cmd)
}

// Signal sends sig to the process and returns at once: SIGHUP to make a broker reload.
func (p *Proc) Signal(sig syscall.Signal) error {
	p.mu.Lock()
	cmd := p.cmd
	p.mu.Unlock()
	if cmd == nil || cmd.Process == nil {
		return fmt.Errorf("rig: %s is not running", p.Name)
	}
	return cmd.Process.Signal(sig)
}

// Kill sends SIGKILL to the process group and waits for the exit (kill -9: no goodbye).
func (p *Proc) Kill() { p.signal(syscall.SIGKILL, 10*time.Second) }

// Stop sends SIGTERM and waits up to d, then kills.
func (p *Proc) Stop(d time.Duration) {
	if !p.signal(syscall.SIGTERM, d) {
		p.Kill()
	}
}

func (p *Proc) signal(sig syscall.Signal, d time.Duration) bool {
	p.mu.Lock()
	cmd, done := p.cmd, p.done
	p.mu.Unlock()
	if cmd == nil || cmd.Process == nil {
		return true
	}
	select {
	case <-done:
		return true
	default:
	}
	syscall.Kill(-cmd.Process.Pid, sig)
	select {
	case <-done:
		return true
	case <-time.After(d):
		return false
	}
}

// Wait waits up to d for the process to exit by itself and returns its exit error.
func (p *Proc) Wait(d time.Duration) (exited bool, err error) {
	p.mu.Lock()
	done := p.done
	p.mu.Unlock()
	select {
	case <-done:
		p.mu.Lock()
		defer p.mu.Unlock()
		return true, p.err
	case <-time.After(d):
		return false, nil
	}
}

// Exited reports whether the process has exited.
func (p *Proc) Exited() bool {
	p.mu.Lock()
	done := p.done
	p.mu.Unlock()
	select {
	case <-done:
		return true
	default:
		return false
	}
}

// Tail returns the last n lines of a file.
func Tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "(" + err.Error() + ")"
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// Build compiles the main package pkg of this module into dir and returns the binary.
func Build(t testing.TB, pkg, dir string) string {
	t.Helper()
	out := filepath.Join(dir, filepath.Base(pkg))
	gobin := "go"
	if _, err := exec.LookPath(gobin); err != nil {
		gobin = "/usr/local/go/bin/go"
	}
	cmd := exec.Command(gobin, "build", "-o", out, pkg)
	var buf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	if err := cmd.Run(); err != nil {
		t.Fatalf("rig: build %s: %v\n%s", pkg, err, buf.String())
	}
	return out
}
