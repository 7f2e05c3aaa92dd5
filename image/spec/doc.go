// Package spec holds the board-specific parts of an image: the boot loader (GRUB or the
// Raspberry Pi's tryboot), the disk layout, the kernel modules the stage-1 init loads and in
// which order, the stable device names (link rules), the console, the network and the
// watchdog. The image builder (image/cmd/mkimage) takes a board's Spec from here and writes
// it into the initrd as /etc/tillbox/image.json; the stage-1 init (image/init) reads it and
// knows nothing of boards itself. An image for another board is a new entry in Boards.
//
// Guarantees: a Spec that Validate accepts names two root slots, a boot partition holding
// the boot state block and a data partition; Boards returns a fresh copy each time.
package spec
