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
//     down (the messages are kept in the kernel's buffer, below the console's loglevel).
func diagnostics(cmd map[string]string) {
	if cmd["tillbox.trace"] == "1" {
		os.Setenv("TILLBOX_TRACE", "1")
	}
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
