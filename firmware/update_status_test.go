package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"tillbox/image/update"
	"tillbox/ledger"
	"tillbox/ledger/journal"
)

// TestUpdateOutcomeJournaledByTheRunningTill: the till journals the update outcome the
// stage-1 init left in its data directory when it starts, and at once when the init
// signals a confirmation (SIGUSR1) while it runs; each outcome once, across restarts.
func TestUpdateOutcomeJournaledByTheRunningTill(t *testing.T) {
	bin := buildTillbox(t)
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	if err := os.MkdirAll(data, 0o700); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "till.json")
	os.WriteFile(cfg, []byte(`{"data":"`+data+`"}`), 0o600)
	status := filepath.Join(data, update.StatusFile)
	if err := update.WriteStatus(status, update.Status{State: update.StatusFailed, Version: "1.0.9", Detail: "health check: not ready", At: time.Now().UTC()}); err != nil {
		t.Fatal(err)
	}
	events := filepath.Join(dir, "events.jsonl")
	run := func(script string) (*exec.Cmd, chan error) {
		return startScripted(t, bin, script, "--config", cfg, "--events", events, "--log", filepath.Join(dir, "log"))
	}
	waitEvent := func(note string) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for {
			b, _ := os.ReadFile(events)
			if strings.Contains(string(b), `"note":"`+note) {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("no update event %q:\n%s", note, b)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}

	cmd, done := run("wait 60s\n")
	waitEvent("update failed: 1.0.9 rolled back")
	if st, err := update.ReadStatus(status); err != nil || !st.Reported {
		t.Fatalf("status after the report: %+v, %v", st, err)
	}
	// The init confirms a try while the till runs.
	if err := update.WriteStatus(status, update.Status{State: update.StatusConfirmed, Version: "1.1.0", At: time.Now().UTC()}); err != nil {
		t.Fatal(err)
	}
	cmd.Process.Signal(syscall.SIGUSR1)
	waitEvent("update 1.1.0 confirmed")
	cmd.Process.Signal(os.Interrupt)
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("tillbox run: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the till did not stop on SIGINT")
	}
	// A restart does not journal them again.
	if _, done = run(""); <-done != nil {
		t.Fatal("tillbox run with an empty script failed")
	}
	notes := updateNotes(t, data)
	want := []string{"update failed: 1.0.9 rolled back, running ", "update 1.1.0 confirmed"}
	if len(notes) != 2 || !strings.HasPrefix(notes[0], want[0]) || notes[1] != want[1] {
		t.Fatalf("update entries journaled: %q, want once each of %q", notes, want)
	}
}

// updateNotes are the reasons of the update entries in the ledger in data, in order.
func updateNotes(t *testing.T, data string) []string {
	t.Helper()
	l, err := ledger.Open(filepath.Join(data, "till.ledger"), &ledger.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	var notes []string
	l.After(0, 0, func(e *journal.Entry, _ []byte) bool {
		if e.Kind == journal.KindUpdate {
			notes = append(notes, e.Reason)
		}
		return true
	})
	return notes
}
