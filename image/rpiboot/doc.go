// Package rpiboot keeps a Raspberry Pi 4's A/B boot state in the files its firmware reads
// from the FAT boot partition:
//
//	config.txt   the confirmed slot: kernel=a/Image, initramfs a/initrd.gz, cmdline=a/cmdline.txt;
//	             while a try is taken (State.Taken), the slot on try, booted once
//	tryboot.txt  the slot offered for a try (or, with no try, the confirmed slot again); what
//	             the firmware reads instead of config.txt after a reboot with its tryboot flag
//	a/, b/       each slot's kernel, initrd and command lines, copied from the slot's root
//	             filesystem before the slot is offered for a try
//
// Each file carries its part of the state in one comment line the firmware ignores
// ("# tillbox: slot=B version=1.5.0 pending=1 failed=1.4.9") and ends with "# tillbox: end".
//
// A try does not need the firmware's one-shot tryboot flag, which only the Raspberry Pi
// kernel's firmware driver sets (mainline Linux, and so Debian's kernel, never does): just
// before the reboot the init takes the try (config.txt boots the slot on try once, with its
// try command line), and the try's init gives config.txt back to the confirmed slot
// (Consume) first thing. A kernel that does pass the flag makes the firmware read
// tryboot.txt, which names the same try.
//
// Guarantees:
//   - Every file is written whole: a temporary file beside it, fsync, rename over the old
//     name, fsync of the directory. Linux's vfat rewrites the surviving name's 32-byte
//     directory entry in place for a rename over an existing file, so after a power cut
//     the name holds the old or the new contents, provided the card writes that sector
//     whole (SD cards do not promise it). Read tells a torn or truncated file (no end
//     line, no state line, a try without a valid confirmed slot) with ErrTorn, and Repair
//     rewrites it from what survives.
//   - Write changes config.txt first and tryboot.txt after: a cut between the two after a
//     Confirm leaves a tryboot.txt naming the now confirmed slot, which Read takes as "no
//     try"; a cut between them as the try is taken boots the try all the same.
//   - Offering a try changes only tryboot.txt; config.txt, which every normal boot and every
//     watchdog reset reads, keeps naming the confirmed slot except from the take to the
//     try's Consume (the try's kernel and its init's first seconds: a cut there boots the
//     try again).
//   - Nothing here reboots or touches a device: the stage-1 init asks for the tryboot reboot
//     (RebootArg) and reads the firmware's answer (Trying) from the device tree.
package rpiboot
