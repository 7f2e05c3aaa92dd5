//go:build linux

package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"tillbox/image/bundle"
	"tillbox/image/spec"
	"tillbox/image/update"
)

const (
	specFile   = "/etc/tillbox/image.json"
	slotDir    = "/slot"
	bootDir    = "/boot"
	dataDir    = "/data"
	tillData   = "/data/tillbox"
	configFile = "/data/tillbox/config.json"
	statusFile = tillData + "/" + update.StatusFile
	tillboxBin = "/slot/bin/tillbox"
	keysFile   = "/slot/etc/tillbox/update.pub"
)

// Health of a try: ready within a minute and a half (a slow first boot of the uplink
// included), then running for 10 s.
var tryHealth = update.Health{Limit: 90 * time.Second, Alive: 10 * time.Second}

func logf(format string, args ...any) {
	fmt.Printf("tillbox-init: "+format+"\n", args...)
}

func main() {
	if err := run(); err != nil {
		logf("FATAL: %v", err)
	}
	// PID 1 must not exit: the kernel would panic. Give the console a moment, then reboot.
	time.Sleep(5 * time.Second)
	reboot()
}

// phases times this boot's sequence (the "boot phases" line before READY).
var phases = newBootPhases()

func run() error {
	if err := mountEarly(); err != nil {
		return err
	}
	sp, err := spec.Read(specFile)
	if err != nil {
		return err
	}
	cmd := cmdline()
	diagnostics(cmd)
	loader := loaderFor(sp)
	booted, trying := loader.booted(cmd)
	logf("tillbox %s on %s, slot %s%s, kernel up %.2fs", sp.Version, sp.Board, booted, map[bool]string{true: " (try)"}[trying], uptime())
	phases.done("start")
	slotDev := sp.SlotA
	if booted == update.SlotB {
		slotDev = sp.SlotB
	}
	onReady := readyReport(sp, booted, trying, cmd["tillbox.dmesg"] == "1")
	// What the slot's filesystem needs first; then the till starts behind its gate (gate.go)
	// while the rest of the modules load (on their own goroutine, still one after another:
	// never two at once) and the other partitions mount.
	slotMods, rest := splitAfter(sp.Modules, "squashfs")
	loadModules("", slotMods)
	phases.done("slot modules")
	restIn := make(chan struct{})
	go func() {
		loadModules("", rest)
		close(restIn)
	}()
	if err := waitFor(10*time.Second, slotDev); err != nil {
		<-restIn
		return err
	}
	if err := mountAll(mountsOf(sp, slotDev)[:1]); err != nil {
		<-restIn
		return err
	}
	phases.done("slot")
	if cmd["tillbox.readahead"] == "1" {
		go readAhead(tillboxBin)
	}
	// On unless tillbox.early=0: measured under qemu (README, Boot time) on a quiet host it
	// took init to READY from 1.04 to 0.94 s (medians of 5, boots in turn); on a host whose
	// two cores were loaded by other work it bought nothing.
	var early *earlyTill
	if cmd["tillbox.early"] != "0" {
		if early, err = startEarly(onReady); err != nil {
			logf("%v (started after the boot state instead)", err)
		}
	}
	<-restIn
	phases.done("modules")
	// What selling does not need loads while the disk is mounted and the till starts; the
	// watchdog is armed once its driver is in.
	late := make(chan struct{})
	wd := &watchdog{}
	go func() {
		loadModules("late ", sp.LateModules)
		wd.arm(sp)
		close(late)
	}()

	if err := waitFor(10*time.Second, sp.Boot, sp.Data); err != nil {
		return err
	}
	phases.done("disk")
	if err := mountAll(mountsOf(sp, slotDev)[1:]); err != nil {
		return err
	}
	if err := os.MkdirAll(tillData, 0o700); err != nil {
		return err
	}
	phases.done("mounts")
	applyFaults()
	linkInputs(sp.InputLinks)
	watchDevices(sp.Links)
	phases.done("devices")

	loader.prepare(sp, booted, trying)
	slots := loader.slots(sp)
	if out, err := slots.Settle(booted, trying); err != nil {
		logf("boot state: %v", err)
	} else if out.RolledBack {
		logf("update %s failed its try; back on slot %s", out.Version, booted)
		writeStatus(update.StatusFailed, out.Version, "its try never confirmed (it hung or crashed and the box was reset)")
	}
	if err := update.WriteLayout(update.LayoutFile, update.Layout{Slots: slots, Booted: booted, Trying: trying,
		Keys: keysFile, Board: sp.Board, Version: sp.Version}); err != nil {
		logf("%v", err)
	}
	if st, err := slots.State(); err == nil && !trying && st.Try && st.Next != "" {
		// A try offered but not taken (power went before its reboot): take it now. GRUB
		// takes a pending try itself; the Pi's firmware needs the reboot's flag.
		logf("update %s waits for its try; rebooting into it", st.NextVersion)
		early.cancel()
		wd.stop()
		loader.takeTry(&slots)
		shutdown("rebooting into the update's try", loader.tryArg())
		return nil
	}
	phases.done("boot state")
	startNetClock(sp, late)
	phases.done("clock")
	if !trying && sp.Stick != "" {
		if installFromStick(sp.Stick) {
			early.cancel()
			wd.stop()
			loader.takeTry(&slots)
			shutdown("rebooting into the update's try", loader.tryArg())
			return nil
		}
	}
	if !trying {
		reportStatus(sp.Version)
	}
	phases.done("stick and status")
	// The till starts at once: it sells without the network, and its uplink connects
	// once the network is up.
	return supervise(sp, &slots, loader, booted, trying, wd, early, onReady)
}

// readAhead reads the file through once, so that it is in the page cache when it is run
// (tillbox.readahead=1 on the kernel command line, for comparing boots): the till's binary
// was read so when the slot's squashfs compressed it, whose page faults then decompressed
// it block by block. The binary is stored uncompressed now (image/build), and the read,
// 0.8 s of CPU under qemu beside the till's own start, is left out by default.
func readAhead(path string) {
	start := time.Now()
	f, err := os.Open(path)
	if err != nil {
		return
	}
	defer f.Close()
	buf := make([]byte, 256<<10)
	var n int64
	for {
		m, err := f.Read(buf)
		n += int64(m)
		if err == io.EOF {
			break
		}
		if err != nil {
			logf("read ahead %s: %v", path, err)
			return
		}
	}
	logf("read ahead %s: %d bytes in %s", path, n, time.Since(start).Round(time.Millisecond))
}

// installFromStick runs tillbox update on the stick when it holds a bundle, and reports
// whether a try is set up.
func installFromStick(dev string) bool {
	f, err := os.Open(dev)
	if err != nil {
		return false
	}
	magic := make([]byte, len(bundle.Magic))
	_, err = io.ReadFull(f, magic)
	f.Close()
	if err != nil || string(magic) != bundle.Magic {
		return false
	}
	logf("update stick %s: installing", dev)
	// Its lines go to the console as they come (a power cut mid-install leaves them there).
	c := exec.Command(tillboxBin, "update", "--config", configFile, dev)
	r, w, err := os.Pipe()
	if err != nil {
		logf("update: %v", err)
		return false
	}
	c.Stdout, c.Stderr = w, w
	err = c.Start()
	w.Close()
	if err == nil {
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			logf("  %s", sc.Text())
		}
		err = c.Wait()
	}
	r.Close()
	if err != nil {
		logf("update refused: %v", err)
		return false
	}
	return true
}

// faultFile holds TILLBOX_FAULT_* hooks for the power-cut tests, one VAR=value a line; the
// init takes them into its environment (the till and tillbox update inherit them) and
// removes the file, so a hook acts on one boot only.
const faultFile = tillData + "/fault.env"

func applyFaults() {
	b, err := os.ReadFile(faultFile)
	if err != nil {
		return
	}
	os.Remove(faultFile)
	if d, err := os.Open(tillData); err == nil {
		d.Sync()
		d.Close()
	}
	for _, l := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(l), "=")
		if ok && strings.HasPrefix(k, "TILLBOX_FAULT_") {
			os.Setenv(k, v)
			logf("fault hook %s=%s (from %s, removed)", k, v, faultFile)
		}
	}
}

// readyReport is what the init does at the till's first prompt (once): the boot phases
// and the READY line. READY is the till's first operator prompt, also in a try (whose
// confirmation comes after the health check's Alive time).
func readyReport(sp spec.Spec, booted string, trying, dmesg bool) func() {
	var once sync.Once
	return func() {
		once.Do(func() {
			phases.done("till to ready")
			logf("boot phases: %s", phases)
			logf("READY slot=%s version=%s uptime=%.2fs%s", booted, sp.Version, uptime(), map[bool]string{true: " (try)"}[trying])
			if dmesg {
				go printKernelLog()
			}
		})
	}
}

// supervise runs the till (the early one first, when there is one: it gets its go now),
// feeds the watchdog, and decides a try.
func supervise(sp spec.Spec, slots *update.Slots, loader bootLoader, booted string, trying bool, wd *watchdog, early *earlyTill, onReady func()) error {
	decided := !trying
	if trying {
		// A try that does not decide within the limit stops feeding the watchdog.
		wd.until(time.Now().Add(tryHealth.Limit + tryHealth.Alive + 30*time.Second))
	}
	ready := false
	for restarts := 0; ; restarts++ {
		var (
			events chan []byte
			exited chan error
			c      *exec.Cmd
			done   <-chan struct{}
			err    error
		)
		if restarts == 0 && early != nil {
			events, exited, c, done = early.events, early.exited, early.c, early.done
			early.goAhead()
			phases.done("till's go")
		} else {
			events, exited = make(chan []byte, 64), make(chan error, 1)
			if c, done, err = startTill(events, exited, onReady, nil, tillData); err != nil {
				return err
			}
		}
		ctx, cancel := context.WithCancel(context.Background())
		if !decided {
			err := tryHealth.Wait(ctx, events, exited)
			decided = true
			if err != nil {
				cancel()
				logf("slot %s failed its health check: %v", booted, err)
				// The outcome first: a power cut before the rollback's write boots the
				// active slot all the same, and Settle records the failure again.
				writeStatus(update.StatusFailed, sp.Version, err.Error())
				if rerr := slots.Rollback(booted); rerr != nil {
					logf("roll back: %v", rerr)
				}
				stopTill(c, done)
				wd.stop()
				shutdown("rolling back", "")
				return nil
			}
			// The outcome first, reported once the boot state says so: a power cut during
			// the confirmation boots either the confirmed slot, whose init reports it, or
			// the old one, whose Settle records the try as failed over it.
			writeStatus(update.StatusConfirmed, sp.Version, "")
			if err := slots.Confirm(booted); err != nil {
				logf("confirm: %v", err)
				writeStatus(update.StatusFailed, sp.Version, "confirm: "+err.Error())
			} else {
				logf("slot %s confirmed: version %s", booted, sp.Version)
				// The running till journals it now, not at the next boot. It handles
				// SIGUSR1 from its start, and it passed the health check, so it has started.
				if err := c.Process.Signal(unix.SIGUSR1); err != nil {
					logf("tell tillbox of the confirmation: %v", err)
				}
			}
			wd.until(time.Time{})
			ready = true
		}
		if !ready {
			ready = waitReady(events, exited)
		}
		go func() {
			for range events {
			}
		}()
		err = <-exited
		cancel()
		var ee *exec.ExitError
		if errors.As(err, &ee) && ee.ExitCode() == update.ExitRebootForTry {
			// The fleet's update command installed a bundle for one try.
			logf("tillbox installed an update; rebooting into its try")
			wd.stop()
			loader.takeTry(slots)
			shutdown("rebooting into the update's try", loader.tryArg())
			return nil
		}
		logf("tillbox stopped: %v; restarting", err)
		time.Sleep(time.Duration(min(restarts+1, 10)) * time.Second)
	}
}

// startTill starts tillbox run in dir with its events on a pipe; each line goes to the
// console and to events (dropped when nobody reads, so the till never blocks on its
// events). With a gate (the read end of its pipe) the till waits for its go (gate.go).
func startTill(events chan<- []byte, exited chan<- error, onReady func(), gate *os.File, dir string) (*exec.Cmd, <-chan struct{}, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return nil, nil, fmt.Errorf("events pipe: %w", err)
	}
	c := exec.Command(tillboxBin, "run", "--config", configFile, "--data", tillData, "--events", "/proc/self/fd/3")
	c.Stdout, c.Stderr = os.Stdout, os.Stderr
	c.ExtraFiles = []*os.File{w}
	if gate != nil {
		c.ExtraFiles = append(c.ExtraFiles, gate)
		c.Env = append(os.Environ(), startGateEnv+"=4")
	}
	c.Dir = dir
	if err := c.Start(); err != nil {
		r.Close()
		w.Close()
		return nil, nil, fmt.Errorf("start tillbox: %w", err)
	}
	w.Close()
	phases.done("till exec")
	logf("tillbox started, uptime %.2fs", uptime())
	go func() {
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Bytes()
			fmt.Printf("tillbox-event: %s\n", line)
			if bytes.Contains(line, readyMark) {
				onReady()
			}
			select {
			case events <- bytes.Clone(line):
			default:
			}
		}
		r.Close()
	}()
	done := make(chan struct{})
	go func() {
		err := c.Wait()
		close(done)
		exited <- err
	}()
	return c, done, nil
}

var readyMark = []byte(`"t":"` + update.ReadyEvent + `"`)

// waitReady waits for the till's first operator prompt; on its exit it puts the exit back
// for the caller and reports false.
func waitReady(events <-chan []byte, exited chan error) bool {
	for {
		select {
		case line := <-events:
			if bytes.Contains(line, readyMark) {
				return true
			}
		case err := <-exited:
			exited <- err
			return false
		}
	}
}

// stopTill stops the till (SIGTERM, then SIGKILL after 10 s); done closes when it exited.
func stopTill(c *exec.Cmd, done <-chan struct{}) {
	c.Process.Signal(unix.SIGTERM)
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		c.Process.Kill()
		<-done
	}
}

// writeStatus leaves the last update's outcome on the data partition for the firmware and
// the technician.
func writeStatus(state, version, detail string) {
	st := update.Status{State: state, Version: version, Detail: detail, At: time.Now().UTC()}
	if err := update.WriteStatus(statusFile, st); err != nil {
		logf("%v", err)
	}
}

// reportStatus journals an outcome not reported yet, before the till runs (the ledger is
// free then), so that head office learns of it with the next sync. A till that is running
// when its try is confirmed journals the outcome itself (tillbox run, on SIGUSR1).
func reportStatus(running string) {
	st, err := update.ReadStatus(statusFile)
	if err != nil || st.Reported {
		return
	}
	out, err := exec.Command(tillboxBin, "update", "--config", configFile, "--report", st.Note(running)).CombinedOutput()
	logf("%s", strings.TrimSpace(string(out)))
	if err != nil {
		logf("update report: %v", err)
		return
	}
	st.Reported = true
	if err := update.WriteStatus(statusFile, st); err != nil {
		logf("%v", err)
	}
}

func cmdline() map[string]string {
	b, _ := os.ReadFile("/proc/cmdline")
	m := map[string]string{}
	for _, f := range strings.Fields(string(b)) {
		k, v, _ := strings.Cut(f, "=")
		m[k] = v
	}
	return m
}

func uptime() float64 {
	b, _ := os.ReadFile("/proc/uptime")
	var s float64
	fmt.Sscanf(string(b), "%f", &s)
	return s
}

func waitFor(limit time.Duration, paths ...string) error {
	deadline := time.Now().Add(limit)
	for _, p := range paths {
		for {
			if _, err := os.Stat(p); err == nil {
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("%s did not appear within %s", p, limit)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	return nil
}

// linkInputs lists the input devices in the order the kernel numbered them (eventN), so
// a technician sees them, and makes the spec's stable links to them by name.
func linkInputs(links map[string]string) {
	deadline := time.Now().Add(3 * time.Second)
	for {
		b, _ := os.ReadFile("/proc/bus/input/devices")
		byName := map[string]string{}
		var names []string
		var name string
		for _, l := range strings.Split(string(b), "\n") {
			if n, ok := strings.CutPrefix(l, "N: Name="); ok {
				name = strings.Trim(n, `"`)
				names = append(names, name)
			}
			if h, ok := strings.CutPrefix(l, "H: Handlers="); ok {
				for _, f := range strings.Fields(h) {
					if strings.HasPrefix(f, "event") {
						byName[name] = f
						names[len(names)-1] += " (" + f + ")"
					}
				}
			}
		}
		missing := 0
		for _, want := range links {
			if byName[want] == "" {
				missing++
			}
		}
		if missing == 0 || time.Now().After(deadline) {
			logf("input devices: %s", strings.Join(names, ", "))
			for link, want := range links {
				if ev := byName[want]; ev != "" {
					os.Remove(link)
					if err := os.Symlink(ev, link); err != nil {
						logf("input link %s: %v", link, err)
					}
				} else {
					logf("input link %s: no device %q", link, want)
				}
			}
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}
