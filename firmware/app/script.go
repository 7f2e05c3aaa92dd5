package app

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync/atomic"
	"time"

	"tillbox/drivers/keypad"
)

// A script drives the sim board's fakes as a person at the till would, one command a line:
//
//	signon ID PIN        SIGN ON/OFF, the cashier number, ENTER, the PIN, ENTER
//	key NAME...          press POS keys (names as the keypad mapping writes them: QTY, NO_SALE, 7)
//	type DIGITS          press digit keys
//	scan CODE            the scanner reads CODE
//	garbage TEXT         the scanner sends TEXT as a line (noise, a bad code)
//	drawer close         the cashier pushes the open drawer shut
//	paper out|in         the printer runs out of paper / is refilled
//	printer vanish|return
//	wait DURATION        e.g. 200ms (at most 1m)
//	wait printed [LIMIT] wait until the print queue is empty, at most LIMIT (default 30s)
//	wait synced [LIMIT]  wait until head office acknowledged every entry, at most LIMIT
//	drain [LIMIT]        the same as wait printed
//	synced [LIMIT]       the same as wait synced
//	# comment
//
// Each input command returns once the run loop has handled what it fed in, so a script is
// deterministic. Each command is acknowledged on out with a line, "ok N CMD" once it was
// done, or "error N CMD: why"; an unknown command, a device the board lacks or a wait that
// ran out stops the script with its line number. At the end of the script the till waits
// for the print queue to drain (at most 30s).
func (a *App) runScript(ctx context.Context, r io.Reader, out io.Writer) error {
	sim := a.set.Sim
	if sim == nil {
		return errors.New("script: only the sim board can be scripted")
	}
	sc := bufio.NewScanner(r)
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if err := a.scriptLine(ctx, line); err != nil {
			ack(out, "error %d %s: %v", n, line, err)
			return fmt.Errorf("script line %d %q: %w", n, line, err)
		}
		ack(out, "ok %d %s", n, line)
		if ctx.Err() != nil {
			return nil
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("script: %w", err)
	}
	return a.prints.Drain(ctx, defaultWait)
}

// defaultWait bounds a script's waits that name no limit.
const defaultWait = 30 * time.Second

// ack writes one acknowledgement line; a nil out takes none.
func ack(out io.Writer, format string, args ...any) {
	if out != nil {
		fmt.Fprintf(out, format+"\n", args...)
	}
}

// waitLimit reads a wait's optional LIMIT (up to 10m).
func waitLimit(args []string) (time.Duration, error) {
	switch len(args) {
	case 0:
		return defaultWait, nil
	case 1:
		d, err := time.ParseDuration(args[0])
		if err != nil || d <= 0 || d > 10*time.Minute {
			return 0, fmt.Errorf("limit %q: want a duration up to 10m, such as 5s", args[0])
		}
		return d, nil
	}
	return 0, errors.New("want at most one LIMIT")
}

func (a *App) scriptLine(ctx context.Context, line string) error {
	sim := a.set.Sim
	f := strings.Fields(line)
	cmd, args := f[0], f[1:]
	switch cmd {
	case "signon":
		if len(args) != 2 {
			return errors.New("want: signon ID PIN")
		}
		return a.press(ctx, "SIGN_ON_OFF "+spaced(args[0])+" ENTER "+spaced(args[1])+" ENTER")
	case "key":
		return a.press(ctx, strings.Join(args, " "))
	case "type":
		return a.press(ctx, spaced(strings.Join(args, "")))
	case "scan", "garbage":
		if sim.Scanner == nil || len(args) == 0 {
			return errors.New("no scanner, or nothing to scan")
		}
		// A scanner sends whatever it read as one line; garbage is the same line with
		// noise in it, so both go the same way.
		want := a.scansHandled.Load() + 1
		if err := sim.Scanner.Scan(strings.Join(args, " ")); err != nil {
			return err
		}
		return waitCount(ctx, &a.scansHandled, want)
	case "drawer":
		if sim.Drawer == nil || len(args) != 1 || args[0] != "close" {
			return errors.New("want: drawer close")
		}
		// A cashier pushes the drawer shut once it has sprung open, and the command
		// returns when the till has seen it close.
		deadline := time.Now().Add(5 * time.Second)
		for !sim.Drawer.IsOpen() {
			if time.Now().After(deadline) {
				return errors.New("the drawer never opened")
			}
			time.Sleep(2 * time.Millisecond)
		}
		want := a.drawerClosed.Load() + 1
		sim.Drawer.Push()
		return waitCount(ctx, &a.drawerClosed, want)
	case "paper":
		if sim.Printer == nil || len(args) != 1 {
			return errors.New("want: paper out|in")
		}
		switch args[0] {
		case "out":
			sim.Printer.RunOutAfter(0)
		case "in":
			sim.Printer.Refill()
		default:
			return errors.New("want: paper out|in")
		}
		return nil
	case "printer":
		if sim.Printer == nil || len(args) != 1 {
			return errors.New("want: printer vanish|return")
		}
		switch args[0] {
		case "vanish":
			sim.Printer.Vanish()
		case "return":
			sim.Printer.Return()
		default:
			return errors.New("want: printer vanish|return")
		}
		return nil
	case "wait":
		if len(args) >= 1 && (args[0] == "printed" || args[0] == "synced") {
			limit, err := waitLimit(args[1:])
			if err != nil {
				return err
			}
			if args[0] == "printed" {
				return a.prints.Drain(ctx, limit)
			}
			return a.waitSynced(ctx, limit)
		}
		if len(args) != 1 {
			return errors.New("want: wait DURATION, wait printed [LIMIT] or wait synced [LIMIT]")
		}
		d, err := time.ParseDuration(args[0])
		if err != nil || d < 0 || d > time.Minute {
			return fmt.Errorf("wait %q: want a duration up to 1m", args[0])
		}
		select {
		case <-time.After(d):
		case <-ctx.Done():
		}
		return nil
	case "drain", "synced":
		limit, err := waitLimit(args)
		if err != nil {
			return err
		}
		if cmd == "drain" {
			return a.prints.Drain(ctx, limit)
		}
		return a.waitSynced(ctx, limit)
	}
	return fmt.Errorf("unknown command %q", cmd)
}

// spaced turns "1234" into "1 2 3 4" for press.
func spaced(digits string) string {
	return strings.Join(strings.Split(digits, ""), " ")
}

// press types POS keys on the fake keypad and waits until the run loop handled them.
func (a *App) press(ctx context.Context, names string) error {
	kp := a.set.Sim.Keypad
	if kp == nil {
		return errors.New("no keypad")
	}
	var keys []keypad.Key
	for _, n := range strings.Fields(names) {
		k, err := keypad.ParseKey(n)
		if err != nil {
			return err
		}
		keys = append(keys, k)
	}
	want := a.keysHandled.Load() + int64(len(keys))
	if err := kp.Press(keys...); err != nil {
		return err
	}
	return waitCount(ctx, &a.keysHandled, want)
}

func waitCount(ctx context.Context, c *atomic.Int64, want int64) error {
	deadline := time.Now().Add(10 * time.Second)
	for c.Load() < want {
		if time.Now().After(deadline) {
			return fmt.Errorf("input not handled within 10s (%d of %d)", c.Load(), want)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(2 * time.Millisecond):
		}
	}
	return nil
}

// waitSynced waits until HQ's watermark reaches the ledger's last seq.
func (a *App) waitSynced(ctx context.Context, limit time.Duration) error {
	if a.up == nil {
		return errors.New("no uplink configured")
	}
	deadline := time.Now().Add(limit)
	for {
		st := a.up.State()
		if st.Watermark == st.LastSeq {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not synced within %s: watermark %d of %d (%s)", limit, st.Watermark, st.LastSeq, st.LastError)
		}
		a.notifyUplink()
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(20 * time.Millisecond):
		}
	}
}
