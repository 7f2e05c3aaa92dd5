// Package build makes the image's parts without root: the root filesystem of a slot
// (squashfs holding the kernel, an initrd with the stage-1 init and the board's modules,
// tillbox and the trusted update keys) and the whole disk: boot partition, slots A and B,
// data partition. For a GRUB board (qemu-virt) the table is GPT and the boot partition
// holds GRUB and its environment block; for the Pi (rpi4) the table is MBR and the FAT
// boot partition holds the firmware, the device trees, config.txt and tryboot.txt and each
// slot's kernel and initrd (package rpiboot). The initrd's modules are the board's list
// with their dependencies ahead of them, read from each module's .modinfo.
//
// It uses the host's mksquashfs, mkfs.vfat, mtools, mkfs.ext4, sfdisk and grub-mkimage on
// plain files, writes the initrd's cpio itself, and takes the kernel, GRUB's modules, the
// device trees and the Pi firmware from the cache that scripts/image-fetch.sh fills. Guarantees: a built disk boots slot A
// with the boot state "A active at Version, no try"; slot B is empty until an update; the
// data partition holds DATA/tillbox/config.json and nothing else.
package build
