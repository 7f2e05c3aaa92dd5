// Command mkimage builds the flashable image and the matching update bundle for a board:
//
//	mkimage -board qemu-virt -version 0.1.120 -cache .cache/image \
//	        -init bin/linux-arm64/init -tillbox bin/linux-arm64/tillbox \
//	        -key .cache/image/dev-signing.key -config image/qemu-virt.json -out dist
//
// It writes to -out: tillbox-BOARD-VERSION.img.gz (the disk, compressed), its detached
// signature .img.gz.sig, tillbox-BOARD-VERSION.tbx (the same root filesystem as an update
// bundle) and SHA256SUMS over both. With -raw it keeps the uncompressed .img as well (the
// VM test boots it). The public half of -key is baked into the slot as the trusted update
// key. Nothing needs root.
package main
