// Package board holds the board profiles (sim, qemu-virt, rpi4): which device sits on which
// port or pin. It is the only package tree that calls host.Init(), serial.Open or opens
// /dev files.
package board
