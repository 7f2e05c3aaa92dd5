// Package build makes the image's parts without root: the root filesystem of a slot
// (squashfs holding the kernel, an initrd with the stage-1 init and the board's modules,
// tillbox and the trusted update keys) and the whole disk (GPT: boot partition with GRUB
// and its environment block, slots A and B, data partition).
//
// It uses the host's mksquashfs, mkfs.vfat, mtools, mkfs.ext4, sfdisk and grub-mkimage on
// plain files, writes the initrd's cpio itself, and takes the kernel and GRUB's modules
// from the cache that scripts/image-fetch.sh fills. Guarantees: a built disk boots slot A
// with the boot state "A active at Version, no try"; slot B is empty until an update; the
// data partition holds DATA/tillbox/config.json and nothing else.
package build
