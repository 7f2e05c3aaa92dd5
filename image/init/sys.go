//go:build linux

package main

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"tillbox/image/devlinks"
	"tillbox/image/spec"
)

// mountEarly mounts the kernel's filesystems. The kernel does not mount devtmpfs itself
// (DEVTMPFS_MOUNT is off in Debian's kernel).
func mountEarly() error {
	for _, m := range []struct{ src, dir, fs string }{
		{"proc", "/proc", "proc"}, {"sysfs", "/sys", "sysfs"}, {"devtmpfs", "/dev", "devtmpfs"}, {"tmpfs", "/run", "tmpfs"},
	} {
		os.MkdirAll(m.dir, 0o755)
		if err := unix.Mount(m.src, m.dir, m.fs, unix.MS_NOSUID, ""); err != nil && err != unix.EBUSY {
			return fmt.Errorf("mount %s: %w", m.dir, err)
		}
	}
	os.Symlink("/proc/self/fd", "/dev/fd")
	return nil
}

// loadModules loads modules (what names them in the log: "" or "late ") one after another
// in the order given, which the image builder made dependencies first. They are not loaded
// at once: the kernel lets a module whose dependency is still initialising wait up to 30 s
// for its symbols, and a boot whose modules were loaded together once stalled there. A module that
// still fails with ENOENT (an unknown symbol) is tried again once the others of its round
// are in, for as long as a round loads something. One already loaded or built in is fine.
func loadModules(what string, names []string) {
	if len(names) == 0 {
		return
	}
	took, rounds, slowest, slowestTook := loadInOrder(names)
	logf("%d %smodules loaded in %s (%d rounds; slowest %s, %s)", len(names), what, took.Round(time.Millisecond), rounds,
		slowest, slowestTook.Round(time.Millisecond))
}

// loadInOrder is loadModules' work: how long it took, in how many rounds, and its slowest
// module.
func loadInOrder(names []string) (took time.Duration, rounds int, slowest string, slowestTook time.Duration) {
	start := time.Now()
	pending := names
	for len(pending) > 0 {
		rounds++
		errs := make([]error, len(pending))
		for i, n := range pending {
			t := time.Now()
			errs[i] = loadModule(n)
			if took := time.Since(t); took > slowestTook {
				slowest, slowestTook = n, took
			}
		}
		var again []string
		for i, err := range errs {
			var missing modOpenError
			if errors.Is(err, unix.ENOENT) && !errors.As(err, &missing) {
				again = append(again, pending[i])
			} else if err != nil {
				logf("module %s: %v", pending[i], err)
			}
		}
		if len(again) == len(pending) {
			for _, n := range again {
				logf("module %s: %v", n, unix.ENOENT)
			}
			break
		}
		pending = again
	}
	return time.Since(start), rounds, slowest, slowestTook
}

// modOpenError marks a module file that is not in the initrd.
type modOpenError struct{ err error }

func (e modOpenError) Error() string { return e.err.Error() }
func (e modOpenError) Unwrap() error { return e.err }

func loadModule(n string) error {
	f, err := os.Open("/lib/modules/" + n + ".ko")
	if err != nil {
		return modOpenError{err}
	}
	defer f.Close()
	if err := unix.FinitModule(int(f.Fd()), "", 0); err != nil && err != unix.EEXIST {
		return err
	}
	return nil
}

// mount is one filesystem the init mounts.
type mount struct {
	dev, dir, fs string
	flags        uintptr
	data         string
}

// mountsOf is what the init mounts: the booted slot first (the till starts from it), then
// the boot partition and the data partition.
func mountsOf(sp spec.Spec, slotDev string) []mount {
	return []mount{
		{slotDev, slotDir, "squashfs", unix.MS_RDONLY, ""},
		{sp.Boot, bootDir, "vfat", unix.MS_NOEXEC | unix.MS_NOSUID, ""},
		{sp.Data, dataDir, "ext4", unix.MS_NOSUID, "data=ordered"},
	}
}

// mountAll mounts ms at once: they are separate devices, and the data partition's ext4
// (its journal replayed after a power cut) takes the longest. Every mount is tried; the
// errors are joined.
func mountAll(ms []mount) error {
	errs := make([]error, len(ms))
	var wg sync.WaitGroup
	for i, m := range ms {
		wg.Add(1)
		go func() {
			defer wg.Done()
			os.MkdirAll(m.dir, 0o755)
			if err := unix.Mount(m.dev, m.dir, m.fs, m.flags, m.data); err != nil {
				errs[i] = fmt.Errorf("mount %s on %s: %w", m.dev, m.dir, err)
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// splitAfter splits the module list after name (all of it first when name is not in it).
func splitAfter(names []string, name string) (first, rest []string) {
	for i, n := range names {
		if n == name {
			return names[:i+1], names[i+1:]
		}
	}
	return names, nil
}

// watchdog feeds the hardware watchdog from its own goroutine as long as the init runs,
// or until a deadline (a try that has not decided by then is left to the watchdog). It is
// armed once the late modules are in (its driver is one of them on qemu-virt): until then
// until and stop only record what they are told.
type watchdog struct {
	mu       sync.Mutex
	f        *os.File
	deadline time.Time
	stopped  bool
}

// arm opens the spec's watchdog and feeds it from then on (nothing without one).
func (w *watchdog) arm(sp spec.Spec) {
	if sp.Watchdog == "" {
		return
	}
	w.mu.Lock()
	stopped := w.stopped
	w.mu.Unlock()
	if stopped { // a reboot is under way: opening the device would start its timer
		return
	}
	f, err := os.OpenFile(sp.Watchdog, os.O_WRONLY, 0)
	if err != nil {
		logf("watchdog: %v", err)
		return
	}
	if sp.WatchdogTimeout > 0 {
		if err := unix.IoctlSetPointerInt(int(f.Fd()), unix.WDIOC_SETTIMEOUT, sp.WatchdogTimeout); err != nil {
			logf("watchdog timeout: %v", err)
		}
	}
	w.mu.Lock()
	w.f = f
	w.mu.Unlock()
	logf("watchdog %s armed, %ds", sp.Watchdog, sp.WatchdogTimeout)
	go func() {
		for {
			w.mu.Lock()
			feed := !w.stopped && (w.deadline.IsZero() || time.Now().Before(w.deadline))
			if feed {
				w.f.Write([]byte{'k'})
			}
			w.mu.Unlock()
			time.Sleep(2 * time.Second)
		}
	}()
}

// until stops feeding at t (zero: feed for as long as the init runs).
func (w *watchdog) until(t time.Time) {
	w.mu.Lock()
	w.deadline = t
	w.mu.Unlock()
}

// stop feeds one last time before a deliberate reboot, so that the reboot is not cut short.
func (w *watchdog) stop() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.f != nil {
		w.f.Write([]byte{'k'})
	}
	w.stopped = true
}

// shutdown syncs and unmounts what the init mounted, then reboots, with arg as the reboot
// command's argument when it is not "" (the Pi's "0 tryboot").
func shutdown(why, arg string) {
	logf("%s: syncing and rebooting", why)
	unix.Sync()
	for _, d := range []string{dataDir, bootDir, slotDir} {
		if err := unix.Unmount(d, 0); err != nil && !strings.Contains(err.Error(), "invalid argument") {
			logf("unmount %s: %v", d, err)
		}
	}
	unix.Sync()
	if arg != "" {
		p, _ := unix.BytePtrFromString(arg)
		_, _, errno := unix.Syscall6(unix.SYS_REBOOT, unix.LINUX_REBOOT_MAGIC1, unix.LINUX_REBOOT_MAGIC2,
			unix.LINUX_REBOOT_CMD_RESTART2, uintptr(unsafe.Pointer(p)), 0, 0)
		logf("reboot %q: %v", arg, errno)
	}
	reboot()
}

func reboot() {
	unix.Sync()
	if err := unix.Reboot(unix.LINUX_REBOOT_CMD_RESTART); err != nil {
		logf("reboot: %v", err)
	}
	select {}
}

// watchDevices makes the spec's stable device links for what is plugged in now and, from
// the kernel's uevents, for what is plugged in or pulled later.
func watchDevices(rules []spec.Link) {
	if len(rules) == 0 {
		return
	}
	l := &devlinks.Linker{Rules: rules, Sys: "/sys", Dev: "/dev"}
	ln, err := devlinks.Open()
	if err != nil {
		logf("device links: %v", err)
	}
	done, err := l.Coldplug()
	for _, d := range done {
		logf("device link %s", d)
	}
	if err != nil {
		logf("device links: %v", err)
	}
	if ln == nil {
		return
	}
	go func() {
		err := ln.Serve(func(ev devlinks.Event) {
			if did, err := l.Handle(ev); err != nil {
				logf("%v", err)
			} else if did != "" {
				logf("device link %s", did)
			}
		})
		logf("device links: %v", err)
	}()
}
