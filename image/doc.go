// Package image is the home of the flashable image and its updates; the code lives in its
// subpackages and commands:
//
//   - bundle: the signed update bundle (.tbx) and the ed25519 keys that sign it
//   - grubenv: the boot loader's environment block, rewritten in place
//   - rpiboot: the Raspberry Pi's boot state in config.txt and tryboot.txt
//   - spec: the boards' image specs (qemu-virt, rpi4)
//   - devlinks: stable device names from kernel uevents and a rules table
//   - update: A/B slots, installing a bundle, one try, health check, confirm or roll back
//   - init: the stage-1 init that runs as PID 1 on the box
//   - cmd/tillbox-sign: keys, bundles and detached signatures for technicians and CI
//   - build, cmd/mkimage: the disk image, built from parts without root
//   - vmtest: the image booted under qemu-system-aarch64 (make vmtest)
//
// This package itself holds no code.
package image
