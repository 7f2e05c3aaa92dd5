package devlinks

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"tillbox/image/spec"
)

// Uevents as the kernel sends them (captured from an FTDI adapter and an Epson printer's
// USB-serial port plugged into a Pi 4's VL805 ports, and a Zebra scanner's keyboard).
const (
	pcie       = "/devices/platform/scb/fd500000.pcie/pci0000:00/0000:00:00.0/0000:01:00.0/usb1"
	ftdiPath   = pcie + "/1-1/1-1.3/1-1.3:1.0/ttyUSB0/tty/ttyUSB0"
	epsonPath  = pcie + "/1-1/1-1.4/1-1.4:1.0/ttyUSB1/tty/ttyUSB1"
	zebraPath  = pcie + "/1-1/1-1.2/1-1.2:1.0/0003:05E0:1200.0001/input/input3/event3"
	ftdiAdd    = "add@" + ftdiPath + "\x00ACTION=add\x00DEVPATH=" + ftdiPath + "\x00SUBSYSTEM=tty\x00MAJOR=188\x00MINOR=0\x00DEVNAME=ttyUSB0\x00SEQNUM=2211\x00"
	ftdiRemove = "remove@" + ftdiPath + "\x00ACTION=remove\x00DEVPATH=" + ftdiPath + "\x00SUBSYSTEM=tty\x00MAJOR=188\x00MINOR=0\x00DEVNAME=ttyUSB0\x00SEQNUM=2240\x00"
	epsonAdd   = "add@" + epsonPath + "\x00ACTION=add\x00DEVPATH=" + epsonPath + "\x00SUBSYSTEM=tty\x00MAJOR=188\x00MINOR=1\x00DEVNAME=ttyUSB1\x00SEQNUM=2230\x00"
	zebraAdd   = "add@" + zebraPath + "\x00ACTION=add\x00DEVPATH=" + zebraPath + "\x00SUBSYSTEM=input\x00MAJOR=13\x00MINOR=67\x00DEVNAME=input/event3\x00SEQNUM=2199\x00"
	// The interface's bind event: no device node.
	bindIface = "bind@" + pcie + "/1-1/1-1.3/1-1.3:1.0\x00ACTION=bind\x00DEVPATH=" + pcie + "/1-1/1-1.3/1-1.3:1.0\x00SUBSYSTEM=usb\x00DEVTYPE=usb_interface\x00DRIVER=ftdi_sio\x00PRODUCT=403/6001/600\x00TYPE=0/0/0\x00INTERFACE=255/255/255\x00MODALIAS=usb:v0403p6001d0600dc00dsc00dp00icFFiscFFipFFin00\x00SEQNUM=2210\x00"
)

var rules = []spec.Link{
	{Subsystem: "tty", Vendor: "04b8", Link: "/dev/tillbox/printer"},
	{Subsystem: "tty", Vendor: "0403", Product: "6001", Serial: "A50285BI", Link: "/dev/tillbox/pole"},
	{Subsystem: "input", Kernel: "event*", Vendor: "05e0", Link: "/dev/input/scanner"},
	{Subsystem: "tty", Kernel: "ttyUSB*", Link: "/dev/tillbox/serial"},
}

// tree is a sysfs (the USB devices' idVendor, idProduct, serial and interface numbers, two
// devices' uevent files) and a /dev for the three devices.
func tree(t *testing.T) *Linker {
	t.Helper()
	root := t.TempDir()
	sys, dev := filepath.Join(root, "sys"), filepath.Join(root, "dev")
	w := func(p, s string) {
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(s+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for dir, a := range map[string][3]string{
		pcie + "/1-1/1-1.3": {"0403", "6001", "A50285BI"},
		pcie + "/1-1/1-1.4": {"04b8", "0202", "X3TB012345"},
		pcie + "/1-1/1-1.2": {"05e0", "1200", "S/N:1A2B3C"},
		pcie + "/1-1":       {"2109", "3431", ""}, // the hub
	} {
		w(filepath.Join(sys, dir, "idVendor"), a[0])
		w(filepath.Join(sys, dir, "idProduct"), a[1])
		if a[2] != "" {
			w(filepath.Join(sys, dir, "serial"), a[2])
		}
	}
	for _, d := range []string{"1-1.3:1.0", "1-1.4:1.0", "1-1.2:1.0"} {
		w(filepath.Join(sys, pcie, "1-1", strings.Split(d, ":")[0], d, "bInterfaceNumber"), "00")
	}
	w(filepath.Join(sys, ftdiPath, "uevent"), "MAJOR=188\nMINOR=0\nDEVNAME=ttyUSB0")
	w(filepath.Join(sys, zebraPath, "uevent"), "MAJOR=13\nMINOR=67\nDEVNAME=input/event3")
	for _, n := range []string{"ttyUSB0", "ttyUSB1", "input/event3"} {
		w(filepath.Join(dev, n), "")
	}
	return &Linker{Rules: rules, Sys: sys, Dev: dev}
}

func parse(t *testing.T, s string) Event {
	t.Helper()
	ev, err := Parse([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

func TestParse(t *testing.T) {
	ev := parse(t, zebraAdd)
	if ev.Action != "add" || ev.Subsystem != "input" || ev.DevName != "input/event3" || ev.DevPath != zebraPath || ev.Env["SEQNUM"] != "2199" {
		t.Fatalf("%+v", ev)
	}
	for name, msg := range map[string]string{
		"udev's own":       "libudev\x00\xfe\xed\xca\xfe(\x00\x00\x00",
		"no header":        "ACTION=add\x00DEVPATH=/devices/x\x00",
		"header disagrees": "add@/devices/x\x00ACTION=remove\x00DEVPATH=/devices/x\x00SUBSYSTEM=tty\x00",
		"no subsystem":     "add@/devices/x\x00ACTION=add\x00DEVPATH=/devices/x\x00",
		"truncated field":  "add@/devices/x\x00ACTION=add\x00DEVPATH=/devices/x\x00SUBSYS",
		"empty":            "",
	} {
		if _, err := Parse([]byte(msg)); !errors.Is(err, ErrNotUevent) {
			t.Errorf("%s: %v, want ErrNotUevent", name, err)
		}
	}
}

func TestMatchByVendorProductSerial(t *testing.T) {
	l := tree(t)
	for _, tc := range []struct{ msg, want string }{
		{ftdiAdd, "/dev/tillbox/pole"},     // vendor, product and serial
		{epsonAdd, "/dev/tillbox/printer"}, // vendor, ahead of the catch-all ttyUSB*
		{zebraAdd, "/dev/input/scanner"},   // input, vendor from the USB device three levels up
		{bindIface, ""},                    // no device node
		{ftdiRemove, "/dev/tillbox/pole"},  // Match looks only at the device
	} {
		r, ok := l.Match(parse(t, tc.msg))
		if r.Link != tc.want || ok != (tc.want != "") {
			t.Errorf("%s...: matched %q %v, want %q", tc.msg[:12], r.Link, ok, tc.want)
		}
	}
	// The same adapter with another serial falls to the catch-all.
	os.WriteFile(filepath.Join(l.Sys, pcie, "1-1/1-1.3/serial"), []byte("FT0000\n"), 0o644)
	if r, _ := l.Match(parse(t, ftdiAdd)); r.Link != "/dev/tillbox/serial" {
		t.Errorf("other serial: %q", r.Link)
	}
}

func link(t *testing.T, l *Linker, name string) string {
	t.Helper()
	target, err := os.Readlink(l.path(name))
	if err != nil {
		return ""
	}
	return target
}

func TestHotplugAddRemove(t *testing.T) {
	l := tree(t)
	l.Rules = []spec.Link{{Subsystem: "tty", Kernel: "ttyUSB*", Link: "/dev/tillbox/serial"}}
	if did, err := l.Handle(parse(t, ftdiAdd)); err != nil || did != "/dev/tillbox/serial -> /dev/ttyUSB0" {
		t.Fatalf("add: %q %v", did, err)
	}
	if got := link(t, l, "/dev/tillbox/serial"); got != "/dev/ttyUSB0" {
		t.Fatalf("link %q", got)
	}
	// A second adapter while the first is plugged: the first keeps the name.
	if did, _ := l.Handle(parse(t, epsonAdd)); did != "" || link(t, l, "/dev/tillbox/serial") != "/dev/ttyUSB0" {
		t.Fatalf("second adapter took the link: %q", did)
	}
	// The first goes: its link goes with it.
	os.Remove(filepath.Join(l.Dev, "ttyUSB0"))
	if did, err := l.Handle(parse(t, ftdiRemove)); err != nil || did != "removed /dev/tillbox/serial" {
		t.Fatalf("remove: %q %v", did, err)
	}
	if got := link(t, l, "/dev/tillbox/serial"); got != "" {
		t.Fatalf("link left: %q", got)
	}
	// Plugged back in: the name comes back.
	os.WriteFile(filepath.Join(l.Dev, "ttyUSB0"), nil, 0o644)
	if did, _ := l.Handle(parse(t, ftdiAdd)); did == "" || link(t, l, "/dev/tillbox/serial") != "/dev/ttyUSB0" {
		t.Fatalf("re-add: %q", did)
	}
}

func TestColdplug(t *testing.T) {
	l := tree(t)
	for _, c := range [][2]string{{"tty/ttyUSB0", ftdiPath}, {"input/event3", zebraPath}} {
		p := filepath.Join(l.Sys, "class", c[0])
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.Symlink(filepath.Join(l.Sys, c[1]), p); err != nil {
			t.Fatal(err)
		}
	}
	done, err := l.Coldplug()
	if err != nil || len(done) != 2 {
		t.Fatalf("coldplug: %v %v", done, err)
	}
	if link(t, l, "/dev/tillbox/pole") != "/dev/ttyUSB0" || link(t, l, "/dev/input/scanner") != "/dev/input/event3" {
		t.Fatalf("links after coldplug: %v", done)
	}
}
