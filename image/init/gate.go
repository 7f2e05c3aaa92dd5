//go:build linux

package main

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
)

// startGateEnv and the gate's lines are the till's (firmware/startgate.go): a till started
// with it waits, before it reads anything of the box, for "env KEY=VALUE" lines, a
// "dir PATH" line and "go", then the end of the pipe.
const startGateEnv = "TILLBOX_START_GATE"

// earlyTill is the till started as soon as the booted slot is mounted, behind its start
// gate: its runtime and package initialisers (most of its start under emulation) run while
// the init loads the rest of its modules, mounts the data partition, settles the boot
// state and sets the clock. go lets it start; cancel stops it (a boot that reboots into an
// update's try instead).
type earlyTill struct {
	c      *exec.Cmd
	done   <-chan struct{}
	events chan []byte
	exited chan error
	gate   *os.File
}

// startEarly starts the till behind its gate; onReady is called at its first prompt.
func startEarly(onReady func()) (*earlyTill, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("start gate: %w", err)
	}
	e := &earlyTill{events: make(chan []byte, 64), exited: make(chan error, 1), gate: w}
	// The data directory is not mounted yet: the till gets it with the go.
	e.c, e.done, err = startTill(e.events, e.exited, onReady, r, "/")
	r.Close()
	if err != nil {
		w.Close()
		return nil, err
	}
	return e, nil
}

// gateLines is the go: the init's environment as it is now (the fault hooks it took from
// the data partition included), the till's working directory, and "go".
func gateLines(env []string, dir string) string {
	var b strings.Builder
	for _, kv := range env {
		if strings.ContainsAny(kv, "\n") || !strings.Contains(kv, "=") || strings.HasPrefix(kv, startGateEnv+"=") {
			continue
		}
		b.WriteString("env " + kv + "\n")
	}
	b.WriteString("dir " + dir + "\ngo\n")
	return b.String()
}

// goAhead lets the till start. A till that already stopped is the caller's to see (exited).
func (e *earlyTill) goAhead() {
	if _, err := e.gate.WriteString(gateLines(os.Environ(), tillData)); err != nil {
		logf("start gate: %v", err)
	}
	e.gate.Close()
}

// cancel stops a till that never got the go (it exits at the gate's end; killed if not).
func (e *earlyTill) cancel() {
	if e == nil {
		return
	}
	e.gate.Close()
	stopTill(e.c, e.done)
}
