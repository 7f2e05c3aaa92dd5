package main

import (
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

// startGateEnv names the descriptor on which a till started ahead of its box waits for the
// go (image/init's gate.go is the other end). The stage-1 init starts `tillbox run` as soon
// as the booted slot is mounted, so that the till's runtime and package initialisers (the
// larger part of its start under emulation) run while the init loads the rest of its
// modules, mounts the data partition, settles the boot state and sets the clock; the till
// reads nothing of the box until the go.
const startGateEnv = "TILLBOX_START_GATE"

// waitStartGate waits for the go when the till was started ahead (startGateEnv set), and
// takes what came with it. A gate closed without the go means the init will not run this
// till (it reboots into an update, or failed): the till stops without touching anything.
// gated reports whether it waited.
func waitStartGate() (gated bool, err error) {
	v := os.Getenv(startGateEnv)
	if v == "" {
		return false, nil
	}
	os.Unsetenv(startGateEnv)
	fd, err := strconv.Atoi(v)
	if err != nil || fd < 3 {
		return true, fmt.Errorf("start gate: %s=%q: want a descriptor above 2", startGateEnv, v)
	}
	f := os.NewFile(uintptr(fd), "start gate")
	defer f.Close()
	return true, readStartGate(f)
}

// readStartGate reads the init's go, line by line up to the end of the pipe:
//
//	env KEY=VALUE   set in the till's environment (the init's, as it is now: its fault hooks)
//	dir PATH        the working directory (the data partition is mounted now)
//	go              the last line: start
func readStartGate(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return fmt.Errorf("start gate: %w", err)
	}
	lines := strings.Split(string(b), "\n")
	if len(lines) < 2 || lines[len(lines)-2] != "go" || lines[len(lines)-1] != "" {
		return fmt.Errorf("start gate: closed without the go (%d bytes)", len(b))
	}
	for _, l := range lines[:len(lines)-2] {
		verb, arg, _ := strings.Cut(l, " ")
		switch verb {
		case "env":
			k, v, ok := strings.Cut(arg, "=")
			if !ok || k == "" {
				return fmt.Errorf("start gate: env %q: want KEY=VALUE", arg)
			}
			os.Setenv(k, v)
		case "dir":
			if err := os.Chdir(arg); err != nil {
				return fmt.Errorf("start gate: %w", err)
			}
		default:
			return fmt.Errorf("start gate: unknown line %q", l)
		}
	}
	return nil
}
