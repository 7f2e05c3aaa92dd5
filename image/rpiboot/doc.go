// Package rpiboot keeps a Raspberry Pi 4's A/B boot state in the files its firmware reads
// from the FAT boot partition, and decides a try through the firmware's one-shot tryboot
// flag:
//
//	config.txt   the confirmed slot: kernel=a/Image, initramfs a/initrd.gz, cmdline=a/cmdline.txt
//	tryboot.txt  what the firmware reads instead, once, after reboot(2) with "0 tryboot":
//	             the slot on try (or, with no try, the confirmed slot again)
//	a/, b/       each slot's kernel, initrd and command line, copied from the slot's root
//	             filesystem before the slot is offered for a try
//
// Each file carries its part of the state in one comment line the firmware ignores
// ("# tillbox: slot=B version=1.5.0 pending=1 failed=1.4.9") and ends with "# tillbox: end".
//
// Guarantees:
//   - Every file is written whole: a temporary file beside it, fsync, rename over the old
//     name, fsync of the directory. Linux's vfat rewrites the surviving name's 32-byte
//     directory entry in place for a rename over an existing file, so after a power cut
//     the name holds the old or the new contents, provided the card writes that sector
//     whole (SD cards do not promise it). Read tells a torn or truncated file (no end
//     line, no state line) with ErrTorn, and Repair rewrites it from what survives.
//   - Confirm changes config.txt first and tryboot.txt after: a cut between the two leaves
//     a tryboot.txt naming the now confirmed slot, which Read takes as "no try".
//   - Offering a try changes only tryboot.txt; config.txt, which every normal boot and every
//     watchdog reset reads, keeps naming the confirmed slot until Confirm.
//   - Nothing here reboots or touches a device: the stage-1 init asks for the tryboot reboot
//     (RebootArg) and reads the firmware's answer (Trying) from the device tree.
//
// The firmware's one-shot flag is set by the kernel: the Raspberry Pi kernel's firmware
// driver sends it to the firmware when the reboot command carries " tryboot". Mainline
// Linux (and so Debian's kernel) has no such handler: with it the try is never taken, and
// the update is rolled back and reported as failed, never half-applied.
package rpiboot
