package spec

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path"
	"slices"
	"strings"
)

// Spec is what the stage-1 init needs to know about the box it runs on.
type Spec struct {
	Board   string `json:"board"`   // board profile name (board.Lookup)
	Version string `json:"version"` // the image's firmware version, filled in by the builder
	// BootLoader is how the box picks a slot: BootGRUB (an environment block on the boot
	// partition) or BootTryboot (a Raspberry Pi's config.txt and tryboot.txt).
	BootLoader string `json:"boot_loader"`
	// Modules are loaded in this order, from /lib/modules/NAME.ko in the initrd. In a
	// board's entry in Boards they are what the board needs; the builder adds their
	// dependencies ahead of them and drops what the kernel has built in.
	Modules []string `json:"modules"`
	// LateModules are loaded once the till is starting, in the background: what selling
	// does not need (the network and its RNG). The builder resolves them as Modules and
	// drops those Modules already load.
	LateModules []string `json:"late_modules,omitempty"`
	// Partitions, as the kernel names them.
	Boot  string `json:"boot"` // vfat: the boot loader and its environment block
	SlotA string `json:"slot_a"`
	SlotB string `json:"slot_b"`
	Data  string `json:"data"` // ext4: ledger, config, keys
	// Stick is a block device that may hold an update bundle at boot ("" none).
	Stick string `json:"stick,omitempty"`
	// Net configures one interface (nil leaves the network alone).
	Net *Net `json:"net,omitempty"`
	// Time says where the box gets its time (nil: it keeps the kernel's clock).
	Time *Time `json:"time,omitempty"`
	// Watchdog is the watchdog device; WatchdogTimeout its timeout in seconds.
	Watchdog        string `json:"watchdog,omitempty"`
	WatchdogTimeout int    `json:"watchdog_timeout,omitempty"`
	// InputLinks are stable names for input devices, link path to the device's name as
	// the kernel reports it: eventN numbers follow probe order (what udev rules do on a
	// full system). The till's config names the link.
	InputLinks map[string]string `json:"input_links,omitempty"`
	// Links are stable names for devices by USB vendor, product and serial, made at boot
	// and as devices come and go (package devlinks); the first rule a device matches wins.
	Links []Link `json:"links,omitempty"`
	// Cmdline is what the boot loader adds to the kernel's command line.
	Cmdline string `json:"cmdline"`
	// DTBs are the device trees the Pi's firmware chooses from, by board (BootTryboot):
	// the name on the boot partition to the kernel package's file under broadcom/.
	DTBs map[string]string `json:"-"`
	// Sizes of the partitions in MiB (the builder's business).
	BootMiB, SlotMiB, DataMiB int `json:"-"`
}

// Boot loaders.
const (
	BootGRUB    = "grub"
	BootTryboot = "tryboot"
)

// Link is one rule: a device the kernel announces that matches every non-empty field gets
// the symlink Link to its /dev node. Fields compare exactly, except Kernel, a
// path.Match pattern ("ttyUSB*").
type Link struct {
	// Subsystem is the kernel's: tty, input, usbmisc (usblp's lp0), hidraw.
	Subsystem string `json:"subsystem"`
	// Kernel is a pattern for the device's kernel name (ttyUSB0, event3, lp0).
	Kernel string `json:"kernel,omitempty"`
	// Vendor and Product are the USB device's idVendor and idProduct, four hex digits.
	Vendor  string `json:"vendor,omitempty"`
	Product string `json:"product,omitempty"`
	// Serial is the USB device's serial string.
	Serial string `json:"serial,omitempty"`
	// Interface is the USB interface number (bInterfaceNumber, two hex digits), for
	// devices with more than one (a scanner that is keyboard and serial port at once).
	Interface string `json:"interface,omitempty"`
	// Link is the symlink made, absolute (/dev/tillbox/printer).
	Link string `json:"link"`
}

// Net is one interface's IPv4 setup: DHCP with the static address as fallback, or the
// static address alone. A site file on the data partition (the init's network.json) may
// replace the static part and the NTP servers.
type Net struct {
	Iface string `json:"iface"`
	DHCP  bool   `json:"dhcp,omitempty"`
	// Addr is the static address ("" none: DHCP only), CIDR 10.0.2.15/24; Gateway and
	// DNS go with it.
	Addr    string   `json:"addr,omitempty"`
	Gateway string   `json:"gateway,omitempty"`
	DNS     []string `json:"dns,omitempty"`
	// LeaseTimeout is how many seconds DHCP may take before the static fallback (0: 10).
	LeaseTimeout int `json:"lease_timeout,omitempty"`
}

// Time is where the clock comes from: NTP servers ("host" or "host:port"; the DHCP
// lease's come after them) and an RTC: "" none, a kernel RTC device (/dev/rtc0), or a
// DS3231/DS1307 on I2C as "i2c-BUS:ADDR" (i2c-1:0x68).
type Time struct {
	NTP []string `json:"ntp,omitempty"`
	RTC string   `json:"rtc,omitempty"`
}

// Boards are the boards an image can be built for.
func Boards() map[string]Spec {
	return map[string]Spec{
		// qemu-virt: qemu-system-aarch64 -M virt, UEFI firmware, GRUB, one virtio disk;
		// a second virtio disk is the update stick; user networking puts the host at
		// 10.0.2.2.
		"qemu-virt": {
			Board:      "qemu-virt",
			BootLoader: BootGRUB,
			Modules: []string{
				// The disk (slots, boot state, ledger) and the keypad: what the till needs
				// to sell. The slot's first (up to squashfs): the till starts from it while
				// the rest loads.
				"virtio_pci_legacy_dev", "virtio_pci_modern_dev", "virtio_pci", "virtio_blk",
				"squashfs", "virtio_input", "evdev",
				"crc16", "mbcache", "jbd2", "crc32c_generic", "ext4",
				"fat", "vfat", "nls_cp437", "nls_ascii",
			},
			LateModules: []string{
				// The watchdog that guards a try is armed once it is in (while the till
				// starts); a try's limit is minutes.
				"i6300esb",
				"failover", "net_failover", "virtio_net", "virtio_console",
				// virtio-rng feeds the kernel's CRNG (seeded at boot from the firmware's
				// RNG and the device tree), before DHCP and the uplink draw on it.
				"virtio_rng",
			},
			Boot: "/dev/vda1", SlotA: "/dev/vda2", SlotB: "/dev/vda3", Data: "/dev/vda4",
			Stick: "/dev/vdb",
			// qemu's user network serves DHCP (10.0.2.15); the same address is the fallback.
			Net: &Net{Iface: "eth0", DHCP: true, Addr: "10.0.2.15/24", Gateway: "10.0.2.2", DNS: []string{"10.0.2.3"}, LeaseTimeout: 5},
			// The PL031 RTC; the host is the only NTP server a test has (network.json).
			Time:     &Time{RTC: "/dev/rtc0"},
			Watchdog: "/dev/watchdog", WatchdogTimeout: 20,
			// ACPI's power button is event0, so the keypad gets a stable name.
			InputLinks: map[string]string{"/dev/input/keypad": "QEMU Virtio Keyboard"},
			// cryptomgr.notests: the kernel's self-tests of its crypto algorithms took two
			// thirds of the kernel's boot under TCG; they check the kernel package's build,
			// which is the same on every box. initcall_blacklist: the two slowest of the
			// kernel's own initialisers under TCG (initcall_debug), which nothing on the box
			// uses: the tracing interface for kprobes (its tracefs files) and the self-test
			// of the SP800-108 key derivation, which is all its initialiser does. kpti=0: the
			// Cortex-A53 is not affected by Meltdown, but with KASLR on the kernel forces page
			// table isolation anyway ("forced ON by KASLR" in its log), so that every exception
			// and system call switches page tables, which costs qemu's emulation far more than
			// a CPU: the till's `tillbox version` from a ramfs (its Go start, page faults
			// mostly) took 0.64x as long without it (medians of 20, warm) and 0.82x on its first
			// run. KASLR itself stays on.
			Cmdline: "console=ttyAMA0 8250.nr_uarts=8 panic=5 loglevel=4 cryptomgr.notests kpti=0 " +
				"initcall_blacklist=init_kprobe_trace,crypto_kdf108_init",
			BootMiB: 16, SlotMiB: 64, DataMiB: 64,
		},
		// rpi4: a Raspberry Pi 4 Model B, Pi 400 or Compute Module 4 booting from its SD
		// card or eMMC (mmcblk0). The firmware loads the kernel and initrd from the FAT
		// boot partition and picks the slot with config.txt or, once, tryboot.txt.
		"rpi4": {
			Board:      "rpi4",
			BootLoader: BootTryboot,
			Modules: []string{
				// SD card and eMMC (emmc2); the PCIe xHCI behind the VL805 (whose firmware
				// reset_raspberrypi loads); Ethernet.
				"sdhci_iproc", "reset_raspberrypi", "xhci_pci", "dwc2", "broadcom", "mdio_bcm_unimac", "genet",
				"squashfs", "ext4", "vfat", "nls_cp437", "nls_ascii",
				// What shops plug in: USB printers, USB-serial adapters, HID scanners and
				// keypads; the LCD's I2C; the watchdog. The GPIO controller
				// (pinctrl-bcm2835) is built into the kernel.
				"usblp", "cdc_acm", "usbserial", "ftdi_sio", "pl2303", "ch341", "cp210x",
				"usbhid", "hid_generic", "evdev", "i2c_bcm2835", "i2c_dev", "bcm2835_wdt",
				// The SoC's RNG seeds the kernel's CRNG early.
				"iproc_rng200",
			},
			Boot: "/dev/mmcblk0p1", SlotA: "/dev/mmcblk0p2", SlotB: "/dev/mmcblk0p3", Data: "/dev/mmcblk0p4",
			Stick: "/dev/sda",
			// A shop's network is its own: DHCP, and a static fallback only from the site's
			// network.json. An RTC module on the I2C header (DS3231, 0x68) is used when fitted.
			Net:      &Net{Iface: "eth0", DHCP: true},
			Time:     &Time{NTP: []string{"pool.ntp.org"}, RTC: "i2c-1:0x68"},
			Watchdog: "/dev/watchdog", WatchdogTimeout: 15,
			Links: []Link{
				// Receipt printers: Epson (04b8), Star (0519), Citizen (1d90), on USB-serial or
				// as USB printer class.
				{Subsystem: "tty", Vendor: "04b8", Link: "/dev/tillbox/printer"},
				{Subsystem: "tty", Vendor: "0519", Link: "/dev/tillbox/printer"},
				{Subsystem: "tty", Vendor: "1d90", Link: "/dev/tillbox/printer"},
				{Subsystem: "usbmisc", Kernel: "lp*", Link: "/dev/tillbox/printer-usb"},
				// Scanners: Zebra/Symbol (05e0), Honeywell (0c2e), Datalogic (05f9) as keyboards.
				{Subsystem: "input", Kernel: "event*", Vendor: "05e0", Link: "/dev/input/scanner"},
				{Subsystem: "input", Kernel: "event*", Vendor: "0c2e", Link: "/dev/input/scanner"},
				{Subsystem: "input", Kernel: "event*", Vendor: "05f9", Link: "/dev/input/scanner"},
				// Any other USB-serial adapter: the first one plugged in.
				{Subsystem: "tty", Kernel: "ttyUSB*", Link: "/dev/tillbox/serial"},
				{Subsystem: "tty", Kernel: "ttyACM*", Link: "/dev/tillbox/serial"},
			},
			// The mini UART on GPIO 14/15 (the PL011 serves Bluetooth), and the HDMI console.
			Cmdline: "console=ttyS1,115200 console=tty1 panic=5 loglevel=4",
			DTBs: map[string]string{
				"bcm2711-rpi-4-b.dtb": "bcm2711-rpi-4-b.dtb",
				"bcm2711-rpi-400.dtb": "bcm2711-rpi-400.dtb",
				"bcm2711-rpi-cm4.dtb": "bcm2711-rpi-cm4-io.dtb",
			},
			// The boot partition holds both slots' kernels (about 32 MiB each).
			BootMiB: 128, SlotMiB: 96, DataMiB: 64,
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
	switch s.BootLoader {
	case "", BootGRUB, BootTryboot:
	default:
		return fmt.Errorf("spec: board %s: boot loader %q: want %q or %q", s.Board, s.BootLoader, BootGRUB, BootTryboot)
	}
	if n := s.Net; n != nil && (n.Iface == "" || (!n.DHCP && n.Addr == "")) {
		return fmt.Errorf("spec: board %s: net: an interface and DHCP or an address are required", s.Board)
	}
	for i, l := range s.Links {
		if l.Subsystem == "" || !strings.HasPrefix(l.Link, "/dev/") {
			return fmt.Errorf("spec: board %s: link rule %d: a subsystem and a link under /dev/ are required", s.Board, i)
		}
		if _, err := path.Match(l.Kernel, ""); err != nil {
			return fmt.Errorf("spec: board %s: link rule %d: kernel pattern %q: %w", s.Board, i, l.Kernel, err)
		}
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
