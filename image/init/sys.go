//go:build linux

package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"runtime"
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

// loadModules loads modules (what names them in the log: "" or "late "), which the image
// builder ordered dependencies first. The modules fall into groups linked by their
// dependencies (each module's "depends=" in its .modinfo): the ext4 chain, the virtio PCI
// transport, the FAT chain, and single drivers. A group is loaded one module after
// another in the order given, so that no module is loaded while a dependency of it is still
// initialising (the kernel lets such a module wait up to 30 s for its symbols, and a boot
// whose modules were all loaded together once stalled there); groups share no symbol and
// load side by side, up to one per CPU, as udev would load them. A module that still fails
// with ENOENT (an unknown symbol) is tried again once the others are in, in rounds, for as
// long as a round loads something. One already loaded or built in is fine.
func loadModules(what string, names []string) {
	if len(names) == 0 {
		return
	}
	start := time.Now()
	groups := moduleGroups(names)
	var mu sync.Mutex
	var slowest string
	var slowestTook time.Duration
	failed := map[string]bool{}
	load := func(n string) error {
		t := time.Now()
		err := loadModule(n)
		mu.Lock()
		if took := time.Since(t); took > slowestTook {
			slowest, slowestTook = n, took
		}
		mu.Unlock()
		return err
	}
	// retry logs err unless it is an unknown symbol, and says whether it was (try n again).
	retry := func(n string, err error) bool {
		var missing modOpenError
		if errors.Is(err, unix.ENOENT) && !errors.As(err, &missing) {
			return true
		}
		if err != nil {
			logf("module %s: %v", n, err)
		}
		return false
	}
	work := make(chan []string)
	var wg sync.WaitGroup
	for range min(runtime.NumCPU(), len(groups)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for g := range work {
				for _, n := range g {
					if retry(n, load(n)) {
						mu.Lock()
						failed[n] = true
						mu.Unlock()
					}
				}
			}
		}()
	}
	for _, g := range groups {
		work <- g
	}
	close(work)
	wg.Wait()
	var pending []string
	for _, n := range names {
		if failed[n] {
			pending = append(pending, n)
		}
	}
	rounds := 1
	for len(pending) > 0 {
		rounds++
		var again []string
		for _, n := range pending {
			if retry(n, load(n)) {
				again = append(again, n)
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
	logf("%d %smodules loaded in %s (%d groups, %d rounds; slowest %s, %s)", len(names), what, time.Since(start).Round(time.Millisecond),
		len(groups), rounds, slowest, slowestTook.Round(time.Millisecond))
}

// moduleGroups splits names into the groups their dependencies link (see loadModules),
// each in the order of names, the groups in the order of their first module. A module
// whose file cannot be read is a group of its own (its load then reports why).
func moduleGroups(names []string) [][]string {
	return groupModules(names, func(n string) []string {
		b, err := os.ReadFile("/lib/modules/" + n + ".ko")
		if err != nil {
			return nil
		}
		return moduleDepends(b)
	})
}

func groupModules(names []string, depends func(string) []string) [][]string {
	parent := map[string]string{}
	var find func(string) string
	find = func(n string) string {
		if parent[n] != n {
			parent[n] = find(parent[n])
		}
		return parent[n]
	}
	for _, n := range names {
		parent[n] = n
	}
	for _, n := range names {
		for _, d := range depends(n) {
			if _, ok := parent[d]; ok {
				parent[find(d)] = find(n)
			}
		}
	}
	var groups [][]string
	at := map[string]int{}
	for _, n := range names {
		r := find(n)
		i, ok := at[r]
		if !ok {
			i = len(groups)
			at[r] = i
			groups = append(groups, nil)
		}
		groups[i] = append(groups[i], n)
	}
	return groups
}

// moduleDepends is a module's "depends=" from its .modinfo: the modules it needs symbols
// from, with '-' read as '_' as the kernel does.
func moduleDepends(mod []byte) []string {
	const key = "\x00depends="
	i := bytes.Index(mod, []byte(key))
	if i < 0 {
		return nil
	}
	v := mod[i+len(key):]
	if end := bytes.IndexByte(v, 0); end >= 0 {
		v = v[:end]
	}
	var deps []string
	for _, d := range strings.Split(string(v), ",") {
		if d != "" {
			deps = append(deps, strings.ReplaceAll(d, "-", "_"))
		}
	}
	return deps
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

// mountBox mounts the booted slot, the boot partition and the data partition, the three
// at once: they are separate devices, and the data partition's ext4 (its journal replayed
// after a power cut) takes the longest. Every mount is tried; the errors are joined.
func mountBox(sp spec.Spec, slotDev string) error {
	mounts := []struct {
		dev, dir, fs string
		flags        uintptr
		data         string
	}{
		{slotDev, slotDir, "squashfs", unix.MS_RDONLY, ""},
		{sp.Boot, bootDir, "vfat", unix.MS_NOEXEC | unix.MS_NOSUID, ""},
		{sp.Data, dataDir, "ext4", unix.MS_NOSUID, "data=ordered"},
	}
	errs := make([]error, len(mounts))
	var wg sync.WaitGroup
	for i, m := range mounts {
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
	if err := errors.Join(errs...); err != nil {
		return err
	}
	return os.MkdirAll(tillData, 0o700)
}

// watchdog feeds the hardware watchdog from its own goroutine as long as the init runs,
// or until a deadline (a try that has not decided by then is left to the watchdog).
type watchdog struct {
	mu       sync.Mutex
	f        *os.File
	deadline time.Time
	stopped  bool
}

func armWatchdog(sp spec.Spec) *watchdog {
	w := &watchdog{}
	if sp.Watchdog == "" {
		return w
	}
	f, err := os.OpenFile(sp.Watchdog, os.O_WRONLY, 0)
	if err != nil {
		logf("watchdog: %v", err)
		return w
	}
	if sp.WatchdogTimeout > 0 {
		if err := unix.IoctlSetPointerInt(int(f.Fd()), unix.WDIOC_SETTIMEOUT, sp.WatchdogTimeout); err != nil {
			logf("watchdog timeout: %v", err)
		}
	}
	w.f = f
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
	return w
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
