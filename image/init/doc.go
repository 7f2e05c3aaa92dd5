// Command init is the box's stage-1 init: the kernel runs it as PID 1 from the initrd that
// the boot loader loaded from the booted root slot. It
//
//   - mounts /proc, /sys, /dev (devtmpfs), /run; loads the kernel modules the image's spec
//     lists (finit_module, one after another in dependency order; a module whose
//     dependency is not in yet is tried again in the next round; the initrd's modules carry
//     no signature, see image/build), up to the slot's filesystem (squashfs) first, and the
//     late ones (the watchdog's, the network's) in the background;
//   - mounts the booted slot's squashfs read-only at /slot while the rest of its modules
//     load, and starts `tillbox run` from it at once (unless tillbox.early=0 is on the
//     kernel command line), behind its start gate (gate.go, firmware/startgate.go): the till's runtime
//     and package initialisers run while the init loads the rest of its modules, and the
//     till reads nothing of the box until the init's go, which carries the init's
//     environment as it is by then (the fault hooks below) and the till's working
//     directory (under qemu on a quiet host it took init to READY 0.90x; on a loaded
//     one it bought nothing);
//   - mounts the boot partition at /boot and the data partition at /data, the two at once;
//     settles the boot state (a try that never got confirmed
//     is recorded as failed, and reported) through the board's boot loader: GRUB's
//     environment block (qemu-virt) or the Pi firmware's config.txt and tryboot.txt (rpi4:
//     the try is told by its command line or the device tree's chosen/bootloader/tryboot,
//     torn boot files are rewritten, a taken try is consumed at once so that config.txt
//     names the confirmed slot again, and the reboot into a try is reboot(2) RESTART2 with
//     "0 tryboot" after config.txt was set to boot it once);
//   - takes TILLBOX_FAULT_* hooks for the power-cut tests from /data/tillbox/fault.env into
//     its environment (the till and tillbox update inherit them) and removes the file;
//   - makes the spec's stable device links (by USB vendor, product, serial) for what is
//     plugged in, and keeps them as devices come and go, from the kernel's uevents;
//   - arms the watchdog once its driver is in and feeds it while it is itself alive, and
//     during a try only until the health check's limit (a firmware that hangs is reset and
//     rolled back);
//   - sets the clock from the RTC or carries the last trusted time forward (image/clock),
//     configures the network interface by DHCP with the spec's static address as fallback
//     (image/netconf; /data/tillbox/network.json may replace the static setup and the NTP
//     servers), keeps NTP running, and writes the network and time state to
//     /data/tillbox/net.json, all in the background: the till does not wait for the
//     network;
//   - installs an update bundle from the update stick when one is there (tillbox update,
//     before the till runs: no sale can be open), and reboots into its try (the till waiting
//     at its gate is stopped first);
//   - gives the till its go (or starts it, when it was not started early), copies its event lines to
//     the console ("tillbox-event: {...}"), restarts it if it stops, and on a try confirms
//     the slot after the health check (and signals the running till, SIGUSR1, to journal
//     the confirmation at once) or rolls back and reboots.
//
// The kernel command line's tillbox.trace=1, tillbox.dmesg=1, tillbox.readahead=1,
// tillbox.faultaround=BYTES and tillbox.early=0 are for timing a boot (diag.go,
// scripts/boottime.sh).
//
// Console lines start with "tillbox-init: "; just before READY the init prints how long
// each phase of its boot took ("boot phases: start 0.05s, slot modules 0.10s, ..."; till
// exec is the early start's, till's go is what the init did after it until the go, and
// till to ready is from the go to the till's first prompt). "tillbox-init: READY" is the sentinel the VM
// test waits for: the till's first operator prompt, in a try too (the confirmation
// follows the health check). A try's outcome is written before the boot state changes, so
// a power cut during a confirmation or a rollback still has it reported. The init writes to the data partition only the last
// update's outcome (update.WriteStatus), net.json and the last trusted time (time.json);
// everything else goes through tillbox. It never confirms a slot
// that did not pass the health check.
package main
