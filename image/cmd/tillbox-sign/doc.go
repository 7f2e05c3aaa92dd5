// Command tillbox-sign makes update keys, signs update bundles and images, and checks them.
//
//	tillbox-sign keygen -o PREFIX                    PREFIX.key (private, 0600) and PREFIX.pub
//	tillbox-sign bundle -key K -board B -version V [-min-version M] -rootfs FILE -o OUT.tbx
//	tillbox-sign sign -key K FILE...                 a detached FILE.sig beside each FILE
//	tillbox-sign verify -pub P FILE...               a .tbx by its own signature, others by FILE.sig
//
// It guarantees that a bundle it writes verifies with the key's public half, and that
// keygen never overwrites an existing key. Private keys stay out of the repository: the
// build keeps its development key in the gitignored cache directory.
package main
