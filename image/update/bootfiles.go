package update

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"

	"tillbox/image/rpiboot"
)

// bootFiles copies the kernel and initrd of the written slot onto the Pi's boot partition,
// where the firmware loads them from (it reads FAT only).
func (s *Slots) bootFiles(slot string) error {
	open := s.SlotFiles
	if open == nil {
		open = mountSlot
	}
	kernel, initrd, done, err := open(s.Path(slot))
	if err != nil {
		return fmt.Errorf("update: boot files of slot %s: %w", slot, err)
	}
	defer done()
	defer kernel.Close()
	defer initrd.Close()
	if err := rpiboot.InstallSlot(s.Tryboot, slot, kernel, initrd, s.Cmdline); err != nil {
		return fmt.Errorf("update: boot files of slot %s: %w", slot, err)
	}
	return nil
}

// mountSlot mounts the slot's squashfs read-only and opens its boot/vmlinuz and
// boot/initrd.gz; done unmounts it.
func mountSlot(dev string) (io.ReadCloser, io.ReadCloser, func(), error) {
	dir, err := os.MkdirTemp("", "tillbox-slot-")
	if err != nil {
		return nil, nil, nil, err
	}
	if err := unix.Mount(dev, dir, "squashfs", unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV, ""); err != nil {
		os.Remove(dir)
		return nil, nil, nil, fmt.Errorf("mount %s: %w", dev, err)
	}
	done := func() {
		unix.Unmount(dir, 0)
		os.Remove(dir)
	}
	k, err := os.Open(filepath.Join(dir, "boot", "vmlinuz"))
	if err != nil {
		done()
		return nil, nil, nil, err
	}
	i, err := os.Open(filepath.Join(dir, "boot", "initrd.gz"))
	if err != nil {
		k.Close()
		done()
		return nil, nil, nil, err
	}
	return k, i, done, nil
}
