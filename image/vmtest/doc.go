// Package vmtest boots the image under qemu-system-aarch64 -M virt and drives the whole box
// from the host: the receipt printer, scanner and pole display are fakes behind unix
// sockets wired to the guest's pci-serial ports, keys go in through a virtio keyboard
// (QMP send-key, the keypad's evdev), update bundles come on a second virtio disk (the
// update stick), and the uplink reaches a Mosquitto on the host through qemu's user
// networking, where an HQ consumer stores what arrives. The box takes its address from
// qemu's DHCP server and its time from an NTP server the test runs on the host (ntptest,
// named in the data partition's network.json).
//
// The test runs only with TILLBOX_VMTEST set ("short": first boot, a sale delivered to HQ,
// an update installed and confirmed; "full": also a bad and a hung update rolled back, a
// tampered bundle and a downgrade refused, qemu killed in the middle of sales, and at
// each moment of an update: mid-write, in the switch with its spare or its block torn,
// during the try's boot, in the confirmation with its spare or its block torn; "soak",
// TestVMSoak, behind make soak: 100 power cuts at random moments of sales and updates), and
// skips without qemu-system-aarch64 or the kernel cache (scripts/image-fetch.sh).
// `make vmtest` runs the full one. TILLBOX_VMTEST=boots (TestVMBoots, through
// scripts/boottime.sh) times boots of built images against a baseline's, in turn. It prints boot-to-ready times in phases (firmware and
// GRUB, loading the kernel, the kernel, the init to READY); it asserts none.
//
// internal/hang and internal/bad are stand-ins for broken firmware, built into bundles by
// the test: an init that arms the watchdog and hangs, and a tillbox that exits at once.
package vmtest
