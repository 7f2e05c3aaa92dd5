package spec

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
)

// Spec is what the stage-1 init needs to know about the box it runs on.
type Spec struct {
	Board   string `json:"board"`   // board profile name (board.Lookup)
	Version string `json:"version"` // the image's firmware version, filled in by the builder
	// Modules are loaded in this order, from /lib/modules/NAME.ko in the initrd.
	Modules []string `json:"modules"`
	// Partitions, as the kernel names them.
	Boot  string `json:"boot"` // vfat: the boot loader and its environment block
	SlotA string `json:"slot_a"`
	SlotB string `json:"slot_b"`
	Data  string `json:"data"` // ext4: ledger, config, keys
	// Stick is a block device that may hold an update bundle at boot ("" none).
	Stick string `json:"stick,omitempty"`
	// Net configures one interface statically ("" leaves the network alone).
	Net *Net `json:"net,omitempty"`
	// Watchdog is the watchdog device; WatchdogTimeout its timeout in seconds.
	Watchdog        string `json:"watchdog,omitempty"`
	WatchdogTimeout int    `json:"watchdog_timeout,omitempty"`
	// InputLinks are stable names for input devices, link path to the device's name as
	// the kernel reports it: eventN numbers follow probe order (what udev rules do on a
	// full system). The till's config names the link.
	InputLinks map[string]string `json:"input_links,omitempty"`
	// Cmdline is what the boot loader adds to the kernel's command line.
	Cmdline string `json:"cmdline"`
	// Sizes of the partitions in MiB (the builder's business).
	BootMiB, SlotMiB, DataMiB int `json:"-"`
}

// Net is a static IPv4 setup.
type Net struct {
	Iface string `json:"iface"`
	Addr  string `json:"addr"` // CIDR, 10.0.2.15/24
}

// Boards are the boards an image can be built for.
func Boards() map[string]Spec {
	return map[string]Spec{
		// qemu-virt: qemu-system-aarch64 -M virt, UEFI firmware, GRUB, one virtio disk;
		// a second virtio disk is the update stick; user networking puts the host at
		// 10.0.2.2.
		"qemu-virt": {
			Board: "qemu-virt",
			Modules: []string{
				"virtio_pci_legacy_dev", "virtio_pci_modern_dev", "virtio_pci", "virtio_blk",
				"failover", "net_failover", "virtio_net", "virtio_console", "virtio_input", "evdev",
				"squashfs", "crc16", "mbcache", "jbd2", "crc32c_generic", "ext4",
				"fat", "vfat", "nls_cp437", "nls_ascii", "i6300esb",
			},
			Boot: "/dev/vda1", SlotA: "/dev/vda2", SlotB: "/dev/vda3", Data: "/dev/vda4",
			Stick:    "/dev/vdb",
			Net:      &Net{Iface: "eth0", Addr: "10.0.2.15/24"},
			Watchdog: "/dev/watchdog", WatchdogTimeout: 20,
			// ACPI's power button is event0, so the keypad gets a stable name.
			InputLinks: map[string]string{"/dev/input/keypad": "QEMU Virtio Keyboard"},
			Cmdline:    "console=ttyAMA0 8250.nr_uarts=8 panic=5 loglevel=4",
			BootMiB:    16, SlotMiB: 64, DataMiB: 64,
		},
	}
}

// ForBoard returns the spec of a board.
func ForBoard(name string) (Spec, error) {
	s, ok := Boards()[name]
	if !ok {
		var names []string
		for n := range Boards() {
			names = append(names, n)
		}
		slices.Sort(names)
		return Spec{}, fmt.Errorf("spec: board %q: no image spec (have: %s)", name, strings.Join(names, ", "))
	}
	return s, nil
}

// Validate checks that s names what the init needs.
func (s Spec) Validate() error {
	if s.Board == "" || s.Boot == "" || s.SlotA == "" || s.SlotB == "" || s.Data == "" || s.SlotA == s.SlotB {
		return errors.New("spec: board, boot, two distinct slots and data are required")
	}
	return nil
}

// Read reads an image.json.
func Read(path string) (Spec, error) {
	var s Spec
	b, err := os.ReadFile(path)
	if err != nil {
		return s, fmt.Errorf("spec: %w", err)
	}
	if err := json.Unmarshal(b, &s); err != nil {
		return s, fmt.Errorf("spec: %s: %w", path, err)
	}
	return s, s.Validate()
}
