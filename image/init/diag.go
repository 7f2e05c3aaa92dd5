//go:build linux

package main

import (
	"bufio"
	"os"
	"strings"
	"syscall"
)

// Diagnostics for where a boot's time goes, from the kernel command line (the boot loader's
// script, or scripts/boottime.sh without a rebuild):
//
//   - tillbox.trace=1 starts the till with TILLBOX_TRACE=1: its start phases on the console;
//   - tillbox.dmesg=1 prints the kernel's log after READY ("kmsg: " lines), so that a boot
//     with initcall_debug shows each initcall's time without the console slowing the boot
//     down (the messages are kept in the kernel's buffer, below the console's loglevel);
//   - tillbox.faultaround=BYTES sets the kernel's fault-around (how much of a file already
//     in the page cache one page fault maps; 64 KiB by default, at most 2 MiB), for
//     timing the page faults of the till's start.
func diagnostics(cmd map[string]string) {
	if cmd["tillbox.trace"] == "1" {
		os.Setenv("TILLBOX_TRACE", "1")
	}
	if v := cmd["tillbox.faultaround"]; v != "" {
		setFaultAround(v)
	}
}

// setFaultAround writes the kernel's fault_around_bytes (debugfs, mounted for it).
func setFaultAround(v string) {
	const dir = "/sys/kernel/debug"
	if err := syscall.Mount("debugfs", dir, "debugfs", syscall.MS_NOSUID|syscall.MS_NOEXEC, ""); err != nil && err != syscall.EBUSY {
		logf("fault-around: mount debugfs: %v", err)
		return
	}
	if err := os.WriteFile(dir+"/fault_around_bytes", []byte(v), 0); err != nil {
		logf("fault-around: %v", err)
		return
	}
	logf("fault-around: %s bytes", v)
}

// printKernelLog copies what /dev/kmsg holds now to the console.
func printKernelLog() {
	f, err := os.OpenFile("/dev/kmsg", os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		logf("kmsg: %v", err)
		return
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 8192), 8192)
	for sc.Scan() {
		// "prio,seq,usec,flags;text": usec is the message's time since boot.
		meta, text, ok := strings.Cut(sc.Text(), ";")
		if !ok {
			continue
		}
		fields := strings.Split(meta, ",")
		if len(fields) < 3 {
			continue
		}
		logf("kmsg: %s %s", fields[2], text)
	}
}
