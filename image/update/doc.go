// Package update installs signed bundles into the inactive one of two root slots (A/B)
// and keeps the boot state that decides which slot boots: the confirmed (active) slot,
// and at most one pending try of the other.
//
// The boot state lives in a GRUB environment block (package grubenv), which the boot loader
// reads and, to consume a try, rewrites; on a Raspberry Pi (Slots.Tryboot) in the firmware's
// config.txt and tryboot.txt (package rpiboot): the confirmed slot in config.txt, the try
// offered in tryboot.txt, taken by the init (Choose) as it reboots (config.txt then boots
// it once, so the firmware's tryboot flag, which Debian's kernel never passes on, is not
// needed) and consumed by the try's init, and the written slot's kernel and initrd copied
// onto the boot partition before the switch. The GRUB variables:
//
//	tillbox_active=A            the confirmed slot
//	tillbox_active_version=1.4.2
//	tillbox_next=B              the slot to try once ("" none)
//	tillbox_next_version=1.5.0
//	tillbox_try=1               the try is pending; the boot loader sets 0 as it boots it
//	tillbox_failed=1.5.0        the last version whose try failed (not installed again unless asked)
//
// Guarantees:
//   - Install checks the signature, the board, the version (newer than the running one and
//     at least the bundle's minimum) and the whole payload's SHA-256 before it writes a
//     byte; refused bundles leave the inactive slot and the boot state as they were.
//   - Install never switches while a sale is open (the caller's OpenSale tells), checked
//     before the first write and again just before the switch.
//   - The inactive slot's pending try is withdrawn before its first byte is overwritten,
//     and the switch (one sealed rewrite of the block, through its spare: a power cut that
//     tears either leaves the old state or the new one, and the init's Repair rewrites a
//     torn block before anything reads it) happens only after the slot was written,
//     synced, read back from the device and found identical: a power cut at any point boots
//     the active slot or the complete new one.
//   - A try is one boot: the boot loader consumes it before the kernel starts, so a slot
//     that hangs or crashes boots the active slot next time (the watchdog resets a hang).
//     Only Confirm, after a health check on the tried slot, makes it active; Settle on the
//     next boot of the old slot records the failed version.
//   - FaultEnv (TILLBOX_FAULT_UPDATE), for the power-cut tests only, stops an install or a
//     confirmation at a named moment (mid-write, a torn spare or block) and holds there
//     until the power is cut; unset, nothing changes.
//   - Nothing here opens the ledger. The one file it writes on the data partition is the
//     last update's outcome (WriteStatus: a synced temporary file and a rename), which
//     the stage-1 init writes and the till journals once (Status.Reported).
package update
