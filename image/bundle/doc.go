// Package bundle is the update bundle (.tbx) and the keys that sign it.
//
// A bundle is one file:
//
//	offset 0    "TILLBOX1"                        magic
//	offset 8    uint32, big-endian                manifest length n (at most 64 KiB)
//	offset 12   64 bytes                          ed25519 signature of "tillbox-bundle/1\n" + manifest
//	offset 76   n bytes                           manifest, JSON (Manifest)
//	            zero padding to a 4096-byte boundary
//	            the root filesystem image         Manifest.Rootfs.Size bytes, SHA-256 Manifest.Rootfs.SHA256
//
// Guarantees: Open returns a Bundle only when the manifest is signed by one of the trusted
// keys and parses strictly (unknown fields and data after the object refused); nothing in
// an unsigned or wrongly signed bundle is ever interpreted. The manifest carries the
// payload's size and SHA-256,
// so the signature covers the payload too: Verify (a full read) must pass before anything
// trusts the payload, and whoever streams it must hash it again on the way (the file may
// change between two reads). The padding makes the payload block-aligned, so a bundle
// written raw to a USB stick can be read from the block device as it is.
//
// Versions are dotted numbers ("1.4.12", an optional leading "v", an optional "+build"
// suffix that is ignored when comparing); CompareVersions orders them.
//
// Keys are ed25519. A public key file holds one "ed25519:BASE64" line per trusted key
// (lines starting with # are comments); a private key file holds "ed25519-private:BASE64"
// of the 32-byte seed. Detached signatures (SignFile) sign the SHA-256 of a file, so an
// image of any size is signed without reading it into memory.
package bundle
