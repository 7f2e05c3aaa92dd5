// Package evdev decodes and encodes Linux input events and turns the key events of a
// keyboard-wedge barcode scanner into the characters it typed.
//
// It is pure: it reads and writes bytes through io.Reader and io.Writer and never opens,
// grabs or ioctls a device. board opens /dev/input/eventN, grabs it (EVIOCGRAB) so that
// the console does not see the keystrokes, and hands the file to a driver.
//
// # Event layout (Linux input event ABI)
//
// A read from an event device returns whole struct input_event records
// (include/uapi/linux/input.h, Documentation/input/input.rst):
//
//	struct input_event {
//		struct timeval time;  // or __kernel_ulong_t __sec, __usec on 32-bit time64 builds
//		__u16 type;
//		__u16 code;
//		__s32 value;
//	};
//
// The timeval is two machine words, so a record is 24 bytes for a 64-bit process and 16
// bytes for a 32-bit one (GOARCH=arm, also under a 64-bit kernel: the kernel writes the
// compat layout to 32-bit readers). On 32-bit kernels the seconds are unsigned since the
// y2038 change, and this package reads them so. Native is the layout of the process this
// package is compiled into; Layout32 and Layout64 exist so that tests and fakes on one
// machine can produce and check the other. Byte order is the host's (every board tillbox
// supports is little-endian).
//
// Key events carry value 1 (press), 0 (release) or 2 (autorepeat). A SYN_REPORT closes a
// group of events that happened at once; SYN_DROPPED says the kernel's buffer overflowed
// and events were lost.
//
// # Wedge scanners
//
// A USB HID keyboard-wedge scanner types the code as US keyboard scancodes, pressing shift
// where a character needs it. Keyboard turns those scancodes back into ASCII with a fixed
// US table, so the result does not depend on the keyboard layout the host is configured
// with (a German or Polish layout would otherwise swap Y and Z, or turn '-' into 'ß').
// Type does the reverse for fakes.
//
// Guarantees: Decode accepts any bytes of the right length (it never panics);
// Encode(Decode(b)) == b for every record in either layout (FuzzDecode checks both);
// Keyboard never reports a character for a key it has no table entry for.
package evdev
