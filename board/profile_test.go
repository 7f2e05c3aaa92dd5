package board

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"tillbox/drivers/keypad"
	"tillbox/drivers/scanner"
)

func TestLookupEveryProfileValidates(t *testing.T) {
	for _, name := range []string{"sim", "qemu-virt", "rpi4"} {
		t.Run(name, func(t *testing.T) {
			p, err := Lookup(name)
			if err != nil {
				t.Fatal(err)
			}
			if p.Name != name {
				t.Errorf("Name = %q", p.Name)
			}
			if err := p.Validate(); err != nil {
				t.Fatal(err)
			}
			if p.Printer == nil || p.Scanner == nil || p.Display == nil || p.Drawer == nil || p.Keypad == nil {
				t.Errorf("a device is missing: %+v", p)
			}
		})
	}
}

func TestLookupProfilesPlaceDevicesAsDocumented(t *testing.T) {
	q, _ := Lookup("qemu-virt")
	if q.Printer.Kind != KindSerial || q.Printer.Path != "/dev/ttyS0" || q.Printer.Baud != 115200 {
		t.Errorf("qemu-virt printer %+v", q.Printer)
	}
	if q.Scanner.Path != "/dev/ttyS1" || q.Scanner.Baud != 9600 || q.Scanner.Suffix != scanner.SuffixCR {
		t.Errorf("qemu-virt scanner %+v", q.Scanner)
	}
	if q.Display.Kind != KindPole || q.Display.Path != "/dev/ttyS2" {
		t.Errorf("qemu-virt display %+v", q.Display)
	}
	if q.Drawer.Kick != KindPrinter || q.Drawer.Pin != 2 || q.Drawer.Sense != KindPrinter {
		t.Errorf("qemu-virt drawer %+v", q.Drawer)
	}
	r, _ := Lookup("rpi4")
	if r.Display.Kind != KindHD44780 || r.Display.Bus != "1" || r.Display.Addr != 0x27 {
		t.Errorf("rpi4 display %+v", r.Display)
	}
	if r.Drawer.Kick != KindGPIO || r.Drawer.Sense != KindGPIO || r.Scanner.Kind != KindEvdev {
		t.Errorf("rpi4 drawer %+v scanner %+v", r.Drawer, r.Scanner)
	}
}

func TestLookupUnknownListsKnown(t *testing.T) {
	_, err := Lookup("rpi5")
	if !errors.Is(err, ErrUnknownProfile) {
		t.Fatalf("err = %v, want ErrUnknownProfile", err)
	}
	for _, want := range []string{`"rpi5"`, "sim", "qemu-virt", "rpi4"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %s", err, want)
		}
	}
}

func TestLookupReturnsIndependentCopies(t *testing.T) {
	a, _ := Lookup("qemu-virt")
	a.Printer.Path = "/dev/changed"
	a.Scanner.InStore = append(a.Scanner.InStore, scanner.InStoreLayout{})
	b, _ := Lookup("qemu-virt")
	if b.Printer.Path != "/dev/ttyS0" || b.Scanner.InStore != nil {
		t.Fatalf("a change to one Lookup result leaked into the next: %+v %+v", b.Printer, b.Scanner)
	}
}

func overrides(t *testing.T, s string) map[string]json.RawMessage {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		t.Fatalf("test config %s: %v", s, err)
	}
	return m
}

func TestOverrideChangesTheNamedFields(t *testing.T) {
	tests := []struct {
		name   string
		config string
		check  func(p Profile) bool
	}{
		{"printer path only", `{"printer": {"path": "/dev/ttyUSB3"}}`,
			func(p Profile) bool {
				return p.Printer.Path == "/dev/ttyUSB3" && p.Printer.Baud == 115200 && p.Printer.Kind == KindSerial
			}},
		{"printer to tcp", `{"printer": {"kind": "tcp", "address": "10.0.0.5:9100"}}`,
			func(p Profile) bool { return p.Printer.Kind == KindTCP && p.Printer.Address == "10.0.0.5:9100" }},
		{"printer model", `{"printer": {"profile": "write-only-80mm"}, "drawer": {"sense": "none"}}`,
			func(p Profile) bool { return p.Printer.Profile == "write-only-80mm" && p.Drawer.Sense == KindNone }},
		{"scanner suffix and baud", `{"scanner": {"suffix": "crlf", "baud": 19200}}`,
			func(p Profile) bool { return p.Scanner.Suffix == scanner.SuffixCRLF && p.Scanner.Baud == 19200 }},
		{"scanner in-store layouts", `{"scanner": {"in_store": [{"from": 21, "to": 21, "kind": "weight", "item": 4, "value": 5, "value_check": true}]}}`,
			func(p Profile) bool {
				return len(p.Scanner.InStore) == 1 && p.Scanner.InStore[0].Kind == scanner.Weight && p.Scanner.InStore[0].ValueCheck
			}},
		{"display to hd44780 with hex address", `{"display": {"kind": "hd44780", "bus": "1", "addr": "0x3f", "cols": 16, "rows": 2}}`,
			func(p Profile) bool {
				return p.Display.Kind == KindHD44780 && p.Display.Addr == 0x3f && p.Display.Cols == 16
			}},
		{"display address as a number", `{"display": {"kind": "hd44780", "bus": "1", "addr": 39}}`,
			func(p Profile) bool { return p.Display.Addr == 0x27 }},
		{"drawer on pin 5", `{"drawer": {"pin": 5}}`,
			func(p Profile) bool { return p.Drawer.Pin == 5 && p.Drawer.Kick == KindPrinter }},
		{"keypad map as text", `{"keypad": {"map": "KEY_F5 = CASH\nKEY_ENTER = ENTER\n"}}`,
			func(p Profile) bool {
				m, err := p.Keypad.Map.Parse()
				return err == nil && m[63] == keypad.KeyCash && len(m) == 2
			}},
		{"keypad map as an object", `{"keypad": {"map": {"KEY_F6": "CARD"}}}`,
			func(p Profile) bool { m, err := p.Keypad.Map.Parse(); return err == nil && m[64] == keypad.KeyCard }},
		{"null removes a device", `{"display": null}`,
			func(p Profile) bool { return p.Display == nil && p.Printer != nil }},
		{"no overrides", `{}`,
			func(p Profile) bool { return p.Printer.Path == "/dev/ttyS0" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, _ := Lookup("qemu-virt")
			if err := p.Override(overrides(t, tt.config)); err != nil {
				t.Fatal(err)
			}
			if !tt.check(p) {
				t.Errorf("after %s: %+v %+v %+v %+v %+v", tt.config, p.Printer, p.Scanner, p.Display, p.Drawer, p.Keypad)
			}
		})
	}
}

func TestOverrideAddsADeviceTheProfileLacks(t *testing.T) {
	p, _ := Lookup("qemu-virt")
	p.Drawer = nil
	if err := p.Override(overrides(t, `{"drawer": {"kick": "printer", "pin": 2, "sense": "none"}}`)); err != nil {
		t.Fatal(err)
	}
	if p.Drawer == nil || p.Drawer.Sense != KindNone {
		t.Fatalf("drawer %+v", p.Drawer)
	}
}

func TestOverrideRefusesWithAnErrorNamingTheProblem(t *testing.T) {
	tests := []struct {
		name   string
		config string
		is     error
		says   []string
	}{
		{"unknown device", `{"till-roll": {"path": "/dev/x"}}`, ErrUnknownDevice,
			[]string{`"till-roll"`, "printer, scanner, display, drawer, keypad"}},
		{"unknown field", `{"printer": {"port": "/dev/ttyS3"}}`, ErrInvalidSpec,
			[]string{"printer", `"port"`, "path", "baud"}},
		{"wrong type", `{"printer": {"baud": "fast"}}`, ErrInvalidSpec,
			[]string{"printer", `"baud"`, "int"}},
		{"not an object", `{"scanner": 7}`, ErrInvalidSpec, []string{"scanner", "object"}},
		{"unknown kind", `{"printer": {"kind": "bluetooth"}}`, ErrInvalidSpec,
			[]string{"printer.kind", "bluetooth", "sim, serial, usblp or tcp"}},
		{"baud a tty cannot run", `{"scanner": {"baud": 12345}}`, ErrInvalidSpec,
			[]string{"scanner.baud", "12345", "9600"}},
		{"empty path", `{"printer": {"path": ""}}`, ErrInvalidSpec, []string{"printer.path"}},
		{"tcp without port", `{"printer": {"kind": "tcp", "address": "10.0.0.5"}}`, ErrInvalidSpec,
			[]string{"printer.address", "host:port"}},
		{"unknown printer model", `{"printer": {"profile": "tm-u220"}}`, ErrInvalidSpec,
			[]string{"printer.profile", "tm-u220", "epson-80mm"}},
		{"unknown suffix", `{"scanner": {"suffix": "ETX"}}`, ErrInvalidSpec, []string{"scanner", "ETX"}},
		{"overlapping in-store layouts", `{"scanner": {"in_store": [{"from": 20, "to": 22, "kind": "price", "item": 5, "value": 5}, {"from": 22, "to": 23, "kind": "price", "item": 5, "value": 5}]}}`,
			ErrInvalidSpec, []string{"scanner.in_store", "22"}},
		{"drawer pin 3", `{"drawer": {"pin": 3}}`, ErrInvalidSpec, []string{"drawer.pin", "2 or 5"}},
		{"drawer pin the printer model does not wire", `{"printer": {"profile": "write-only-80mm"}, "drawer": {"pin": 5, "sense": "none"}}`,
			ErrInvalidSpec, []string{"drawer.pin", "write-only-80mm"}},
		{"drawer sensed through a printer that reports nothing", `{"printer": {"profile": "write-only-80mm"}}`,
			ErrInvalidSpec, []string{"drawer.sense", "write-only-80mm"}},
		{"drawer kicked through a removed printer", `{"printer": null}`, ErrInvalidSpec,
			[]string{"drawer.kick", "no printer"}},
		{"unknown sense", `{"drawer": {"sense": "magnet"}}`, ErrInvalidSpec, []string{"drawer.sense", "magnet"}},
		{"gpio kick without a line", `{"drawer": {"kick": "gpio"}}`, ErrInvalidSpec, []string{"drawer.kick_gpio"}},
		{"display address out of range", `{"display": {"kind": "hd44780", "bus": "1", "addr": "0x99"}}`, ErrInvalidSpec,
			[]string{"display.addr", "0x99"}},
		{"display address not a number", `{"display": {"addr": "twenty"}}`, ErrInvalidSpec, []string{"display", "twenty"}},
		{"display code page", `{"display": {"code_page": "cp1252"}}`, ErrInvalidSpec,
			[]string{"display.code_page", "cp1252", "cp858"}},
		{"display rows", `{"display": {"rows": 0}}`, ErrInvalidSpec, []string{"display.rows"}},
		{"keypad map line", `{"keypad": {"map": "KEY_F5 = CAHS"}}`, ErrInvalidSpec, []string{"keypad.map", "CAHS"}},
		{"keypad map type", `{"keypad": {"map": 5}}`, ErrInvalidSpec, []string{"keypad", "map"}},
		{"keypad kind", `{"keypad": {"kind": "serial"}}`, ErrInvalidSpec, []string{"keypad.kind", "sim or evdev"}},
		{"usblp without a device file", `{"printer": {"kind": "usblp", "path": ""}}`, ErrInvalidSpec,
			[]string{"printer.path", "/dev/usb/lp0"}},
		{"scanner kind", `{"scanner": {"kind": "bluetooth"}}`, ErrInvalidSpec,
			[]string{"scanner.kind", "bluetooth", "sim, serial or evdev"}},
		{"evdev scanner without a path", `{"scanner": {"kind": "evdev", "path": ""}}`, ErrInvalidSpec,
			[]string{"scanner.path", "eventN"}},
		{"display kind", `{"display": {"kind": "vfd"}}`, ErrInvalidSpec,
			[]string{"display.kind", "vfd", "sim, pole or hd44780"}},
		{"pole display tty baud", `{"display": {"baud": 0}}`, ErrInvalidSpec, []string{"display.baud", "9600"}},
		{"pole display columns the driver refuses", `{"display": {"cols": 4}}`, ErrInvalidSpec,
			[]string{"display.cols", "4 columns"}},
		{"hd44780 without a bus", `{"display": {"kind": "hd44780", "addr": "0x27", "cols": 16}}`, ErrInvalidSpec,
			[]string{"display.bus", "I2C bus"}},
		{"hd44780 size", `{"display": {"kind": "hd44780", "bus": "1", "addr": "0x27", "cols": 24}}`, ErrInvalidSpec,
			[]string{"display.cols", "24x2", "16x2, 20x2, 16x4 or 20x4"}},
		{"drawer kick", `{"drawer": {"kick": "solenoid"}}`, ErrInvalidSpec,
			[]string{"drawer.kick", "solenoid", "printer, gpio or sim"}},
		{"drawer sensed through a removed printer", `{"printer": null, "drawer": {"kick": "gpio", "kick_gpio": "GPIO17"}}`,
			ErrInvalidSpec, []string{"drawer.sense", "no printer"}},
		{"gpio sense without a line", `{"drawer": {"sense": "gpio"}}`, ErrInvalidSpec, []string{"drawer.sense_gpio"}},
		{"gpio sense on the kick line", `{"drawer": {"kick": "gpio", "kick_gpio": "GPIO17", "sense": "gpio", "sense_gpio": "GPIO17"}}`,
			ErrInvalidSpec, []string{"drawer.sense_gpio", "GPIO17", "kick line"}},
		{"evdev keypad without a path", `{"keypad": {"path": ""}}`, ErrInvalidSpec, []string{"keypad.path", "eventN"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, _ := Lookup("qemu-virt")
			before, _ := json.Marshal(p)
			err := p.Override(overrides(t, tt.config))
			if !errors.Is(err, tt.is) {
				t.Fatalf("err = %v, want %v", err, tt.is)
			}
			if !strings.HasPrefix(err.Error(), "board: ") {
				t.Errorf("error %q does not start with the package", err)
			}
			for _, w := range tt.says {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %s", err, w)
				}
			}
			after, _ := json.Marshal(p)
			if string(before) != string(after) {
				t.Errorf("a refused override changed the profile:\n%s\n%s", before, after)
			}
		})
	}
}

func TestProfileRoundTripsThroughJSON(t *testing.T) {
	for _, name := range Names() {
		p, _ := Lookup(name)
		b, err := json.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		var q Profile
		if err := json.Unmarshal(b, &q); err != nil {
			t.Fatalf("%s: %v\n%s", name, err, b)
		}
		c, _ := json.Marshal(q)
		if string(b) != string(c) {
			t.Errorf("%s does not round-trip:\n%s\n%s", name, b, c)
		}
	}
}
