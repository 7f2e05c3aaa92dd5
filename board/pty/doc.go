// Package pty opens pseudo-terminal pairs: a master the test side (a fake device) holds,
// and a slave path that a driver opens through go.bug.st/serial exactly as it would open
// /dev/ttyUSB0, with real termios and a real baud setting.
//
// It lives under board because board is the only package tree that opens /dev files.
package pty
