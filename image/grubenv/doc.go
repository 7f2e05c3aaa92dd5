// Package grubenv reads and rewrites a GRUB environment block: exactly 1024 bytes starting
// with "# GRUB Environment Block\n", then KEY=value lines, padded with '#'.
//
// Guarantees: Write never changes the block's size or moves it (the file is rewritten in
// place with one WriteAt and fsync'd), because GRUB's save_env and the firmware both write
// the same sectors and a block that moved would be lost to the boot loader. A block that
// would not fit in 1024 bytes is refused before anything is written. Keys and values may
// not contain newlines; keys may not contain '='. Decode accepts only what Encode could write
// again: a variable without a name, or without the newline that ends it, is ErrFormat.
//
// WriteSafe keeps a block that survives a torn write: it writes the block's spare
// (path+SpareSuffix) first, synced, then the block, each sealed with a CRC-32 of its
// variables as its last line; ReadSafe takes the block when its seal matches, else the
// spare, so a power cut at any byte of either write reads as the old variables or the new
// ones, never a mix. Variables the boot loader rewrites itself in place (one byte, GRUB's
// save_env) are left out of the seal's values.
package grubenv
