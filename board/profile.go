package board

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"tillbox/drivers/codepage"
	"tillbox/drivers/display"
	"tillbox/drivers/keypad"
	"tillbox/drivers/printer"
	"tillbox/drivers/scanner"
)

// Profile says which device sits on which port or pin. It is plain data, JSON-tagged, so
// that the till's config file can override any part of it per device name (Override).
// A nil spec means the board has no such device. Fields a kind does not use (a path for a
// tcp printer) are ignored, so that an override can change the kind alone.
type Profile struct {
	Name    string       `json:"name"`
	Printer *PrinterSpec `json:"printer,omitempty"`
	Scanner *ScannerSpec `json:"scanner,omitempty"`
	Display *DisplaySpec `json:"display,omitempty"`
	Drawer  *DrawerSpec  `json:"drawer,omitempty"`
	Keypad  *KeypadSpec  `json:"keypad,omitempty"`
}

// Device kinds, as the specs' Kind fields hold them.
const (
	KindSim     = "sim"     // an in-process fake (every device)
	KindSerial  = "serial"  // a tty opened through go.bug.st/serial (printer, scanner)
	KindUSBLP   = "usblp"   // a USB printer class device file, /dev/usb/lpN (printer)
	KindTCP     = "tcp"     // a raw TCP connection, port 9100 by convention (printer)
	KindEvdev   = "evdev"   // a grabbed /dev/input/eventN (scanner, keypad)
	KindPole    = "pole"    // an Epson-command pole display on a tty (display)
	KindHD44780 = "hd44780" // an HD44780 LCD behind a PCF8574 I2C backpack (display)
	KindPrinter = "printer" // the drawer's kick or sense goes through the receipt printer
	KindGPIO    = "gpio"    // the drawer's kick or sense is a GPIO line
	KindNone    = "none"    // the drawer has no sense switch
)

// PrinterSpec says where the receipt printer is.
type PrinterSpec struct {
	// Kind is "sim", "serial", "usblp" or "tcp".
	Kind string `json:"kind"`
	// Path is the device file for serial and usblp ("/dev/ttyS0", "/dev/usb/lp0").
	Path string `json:"path,omitempty"`
	// Baud is the serial line speed in bits per second.
	Baud int `json:"baud,omitempty"`
	// Address is host:port for tcp ("192.168.1.50:9100").
	Address string `json:"address,omitempty"`
	// Profile names the printer model as package printer defines it ("epson-80mm",
	// "write-only-80mm"); empty means printer.DefaultProfile.
	Profile string `json:"profile,omitempty"`
}

// ScannerSpec says where the barcode scanner is.
type ScannerSpec struct {
	// Kind is "sim", "serial" or "evdev" (a USB keyboard-wedge scanner).
	Kind string `json:"kind"`
	// Path is the tty or the /dev/input/eventN file (or a stable udev link to it).
	Path string `json:"path,omitempty"`
	// Baud is the serial line speed in bits per second.
	Baud int `json:"baud,omitempty"`
	// Suffix is what the scanner sends after each code: "CR", "LF", "CRLF", "TAB" or
	// "none". It must match the scanner's own configuration.
	Suffix scanner.Suffix `json:"suffix"`
	// AIM says the scanner sends AIM symbology identifiers (see scanner.Opts.AIM).
	AIM bool `json:"aim,omitempty"`
	// InStore lists the store's in-store EAN-13 layouts; nil means
	// scanner.DefaultInStore, an empty list none.
	InStore []scanner.InStoreLayout `json:"in_store"`
}

// DisplaySpec says where the customer display is.
type DisplaySpec struct {
	// Kind is "sim", "pole" (Epson-command pole display on a tty) or "hd44780" (I2C LCD).
	Kind string `json:"kind"`
	// Path and Baud place a pole display's tty.
	Path string `json:"path,omitempty"`
	Baud int    `json:"baud,omitempty"`
	// Bus names the I2C bus as periph's i2creg knows it ("1" for /dev/i2c-1), and Addr
	// is the backpack's 7-bit address (0x27 or 0x3f on most PCF8574 boards); in JSON a
	// number or a string such as "0x27".
	Bus  string  `json:"bus,omitempty"`
	Addr I2CAddr `json:"addr,omitempty"`
	// Cols and Rows are the character grid: 20x2 for a pole display, 16x2 or 20x4 LCDs.
	Cols int `json:"cols"`
	Rows int `json:"rows"`
	// CodePage is a pole display's character table for text beyond ASCII ("cp858");
	// empty means the driver's default (cp437). An hd44780 ignores it: its ROM and the
	// driver's custom characters show the letters.
	CodePage string `json:"code_page,omitempty"`
}

// DrawerSpec says how the cash drawer is kicked and sensed.
type DrawerSpec struct {
	// Kick is "printer" (the printer's kick-out connector), "gpio" or "sim".
	Kick string `json:"kick"`
	// Pin is the printer's kick-out connector pin the solenoid is on: 2 or 5.
	Pin int `json:"pin,omitempty"`
	// KickGPIO names the GPIO line driving the solenoid ("GPIO17").
	KickGPIO string `json:"kick_gpio,omitempty"`
	// KickActiveLow: the solenoid driver energises on low.
	KickActiveLow bool `json:"kick_active_low,omitempty"`
	// Sense is "none", "printer" (the printer's drawer status bit), "gpio" or "sim".
	Sense string `json:"sense"`
	// SenseGPIO names the GPIO line the drawer switch is on ("GPIO27").
	SenseGPIO string `json:"sense_gpio,omitempty"`
	// OpenWhenLow: the switch reads low while the drawer is open.
	OpenWhenLow bool `json:"open_when_low,omitempty"`
}

// KeypadSpec says where the operator keypad is.
type KeypadSpec struct {
	// Kind is "sim" or "evdev".
	Kind string `json:"kind"`
	// Path is the /dev/input/eventN file (or a stable udev link to it).
	Path string `json:"path,omitempty"`
	// Map is the key mapping in either form keypad.ParseMap reads; empty means
	// keypad.DefaultMap.
	Map KeyMap `json:"map,omitempty"`
}

// KeyMap is a keypad mapping as the config file holds it: a JSON string with the text form
// ("KEY_F5 = CASH\n...") or a JSON object of code to key names. It keeps the text so that
// keypad.ParseMap, which reads both, is the one parser.
type KeyMap string

// UnmarshalJSON accepts a JSON string (the text form) or a JSON object.
func (m *KeyMap) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case bytes.Equal(b, []byte("null")):
		*m = ""
	case len(b) > 0 && b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*m = KeyMap(s)
	case len(b) > 0 && b[0] == '{':
		*m = KeyMap(b)
	default:
		return errors.New("keypad map: want a string of mapping lines or an object of key names")
	}
	return nil
}

// Parse returns the mapping; an empty KeyMap is keypad.DefaultMap.
func (m KeyMap) Parse() (keypad.Map, error) {
	if strings.TrimSpace(string(m)) == "" {
		return keypad.DefaultMap(), nil
	}
	return keypad.ParseMap([]byte(m))
}

// I2CAddr is a 7-bit I2C address. In JSON it is a number or a string in Go syntax
// ("0x27", "39"), since datasheets and backpack boards print it in hex.
type I2CAddr uint16

// UnmarshalJSON reads a number or a string.
func (a *I2CAddr) UnmarshalJSON(b []byte) error {
	s := strings.TrimSpace(string(b))
	if u, err := strconv.Unquote(s); err == nil {
		s = u
	}
	n, err := strconv.ParseUint(s, 0, 16)
	if err != nil {
		return fmt.Errorf("i2c address %s: want a number such as 39 or \"0x27\"", b)
	}
	*a = I2CAddr(n)
	return nil
}

// MarshalJSON writes the address as a hex string, as it is usually written.
func (a I2CAddr) MarshalJSON() ([]byte, error) {
	return json.Marshal(fmt.Sprintf("0x%02x", uint16(a)))
}

// profiles are the boards tillbox knows. Each call builds a fresh value, so that a caller
// overriding its copy never changes what the next Lookup returns.
var profiles = map[string]func() Profile{
	// sim: every device an in-process fake behind the real driver.
	"sim": func() Profile {
		return Profile{
			Name:    "sim",
			Printer: &PrinterSpec{Kind: KindSim, Profile: printer.DefaultProfile.Name},
			Scanner: &ScannerSpec{Kind: KindSim, Suffix: scanner.SuffixCR},
			Display: &DisplaySpec{Kind: KindSim, Cols: 20, Rows: 2, CodePage: "cp858"},
			Drawer:  &DrawerSpec{Kick: KindSim, Sense: KindSim},
			Keypad:  &KeypadSpec{Kind: KindSim},
		}
	},
	// qemu-virt: the image under qemu-system-aarch64 -M virt, with the peripherals as
	// host-side fakes on the emulated serial ports and the keypad as virtio input.
	"qemu-virt": func() Profile {
		return Profile{
			Name:    "qemu-virt",
			Printer: &PrinterSpec{Kind: KindSerial, Path: "/dev/ttyS0", Baud: 115200, Profile: printer.DefaultProfile.Name},
			Scanner: &ScannerSpec{Kind: KindSerial, Path: "/dev/ttyS1", Baud: 9600, Suffix: scanner.SuffixCR},
			Display: &DisplaySpec{Kind: KindPole, Path: "/dev/ttyS2", Baud: 9600, Cols: 20, Rows: 2, CodePage: "cp858"},
			Drawer:  &DrawerSpec{Kick: KindPrinter, Pin: 2, Sense: KindPrinter},
			// The image's init links the virtio keyboard here by name: event numbers
			// follow probe order (ACPI's power button takes event0).
			Keypad: &KeypadSpec{Kind: KindEvdev, Path: "/dev/input/keypad"},
		}
	},
	// rpi4: a Raspberry Pi 4 with a USB serial printer, a USB keyboard-wedge scanner, an
	// I2C LCD on bus 1 and the drawer on GPIOs. The input paths are the stable names the
	// image's udev rules give the two USB keyboards, since eventN numbers follow
	// enumeration order; the config file overrides them for other hardware.
	"rpi4": func() Profile {
		return Profile{
			Name:    "rpi4",
			Printer: &PrinterSpec{Kind: KindSerial, Path: "/dev/ttyUSB0", Baud: 115200, Profile: printer.DefaultProfile.Name},
			Scanner: &ScannerSpec{Kind: KindEvdev, Path: "/dev/input/scanner", Suffix: scanner.SuffixCR},
			Display: &DisplaySpec{Kind: KindHD44780, Bus: "1", Addr: 0x27, Cols: 20, Rows: 4},
			Drawer:  &DrawerSpec{Kick: KindGPIO, KickGPIO: "GPIO17", Sense: KindGPIO, SenseGPIO: "GPIO27"},
			Keypad:  &KeypadSpec{Kind: KindEvdev, Path: "/dev/input/keypad"},
		}
	},
}

// Names lists the known board profiles, sorted.
func Names() []string {
	var n []string
	for k := range profiles {
		n = append(n, k)
	}
	slices.Sort(n)
	return n
}

// Lookup returns the profile of the board called name ("sim", "qemu-virt", "rpi4").
func Lookup(name string) (Profile, error) {
	f, ok := profiles[name]
	if !ok {
		return Profile{}, fmt.Errorf("board: lookup %q: %w (known: %s)", name, ErrUnknownProfile, strings.Join(Names(), ", "))
	}
	return f(), nil
}

// Devices are the device names a Profile has, in the order Health reports them.
var Devices = []string{"printer", "scanner", "display", "drawer", "keypad"}

// Override changes the profile from the config file's device sections: for each device
// name, a JSON object whose fields replace the spec's (fields it does not mention are
// kept), or null to say the till has no such device. A device the profile lacks starts
// from an empty spec. Unknown devices, unknown fields and values of the wrong type are
// errors naming them, and so is a result that Validate refuses; on any error p is left
// as it was.
func (p *Profile) Override(devices map[string]json.RawMessage) error {
	q := p.clone()
	names := make([]string, 0, len(devices))
	for n := range devices {
		names = append(names, n)
	}
	slices.Sort(names) // the first error reported does not depend on map order
	for _, name := range names {
		raw := devices[name]
		var err error
		switch name {
		case "printer":
			q.Printer, err = overrideSpec(name, q.Printer, raw)
		case "scanner":
			q.Scanner, err = overrideSpec(name, q.Scanner, raw)
		case "display":
			q.Display, err = overrideSpec(name, q.Display, raw)
		case "drawer":
			q.Drawer, err = overrideSpec(name, q.Drawer, raw)
		case "keypad":
			q.Keypad, err = overrideSpec(name, q.Keypad, raw)
		default:
			return fmt.Errorf("board: override %q: %w (known: %s)", name, ErrUnknownDevice, strings.Join(Devices, ", "))
		}
		if err != nil {
			return err
		}
	}
	if err := q.Validate(); err != nil {
		return err
	}
	*p = q
	return nil
}

// overrideSpec decodes raw over a copy of cur; JSON null removes the device.
func overrideSpec[T any](name string, cur *T, raw json.RawMessage) (*T, error) {
	if bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
		return nil, nil
	}
	next := new(T)
	if cur != nil {
		*next = *cur
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(next); err != nil {
		return nil, fmt.Errorf("board: override %s: %w: %s", name, ErrInvalidSpec, describeJSONError(err, next))
	}
	if dec.More() {
		return nil, fmt.Errorf("board: override %s: %w: trailing data after the object", name, ErrInvalidSpec)
	}
	return next, nil
}

// describeJSONError rewords encoding/json's errors in the config file's terms: the field's
// JSON name, and for an unknown one the names that exist.
func describeJSONError(err error, spec any) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		if te.Field != "" {
			return fmt.Sprintf("field %q: got a JSON %s, want %s", te.Field, te.Value, te.Type)
		}
		return fmt.Sprintf("got a JSON %s, want an object", te.Value)
	}
	msg := err.Error()
	if f, ok := strings.CutPrefix(msg, "json: unknown field "); ok {
		return fmt.Sprintf("unknown field %s (known: %s)", f, strings.Join(jsonFields(spec), ", "))
	}
	return strings.TrimPrefix(msg, "json: ")
}

// jsonFields lists the JSON names of a spec's fields.
func jsonFields(spec any) []string {
	t := reflect.TypeOf(spec)
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	var names []string
	for i := range t.NumField() {
		tag, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		if tag != "" && tag != "-" {
			names = append(names, tag)
		}
	}
	return names
}

// clone returns a deep copy, so that decoding over it never reaches p's slices.
func (p *Profile) clone() Profile {
	q := Profile{Name: p.Name}
	if p.Printer != nil {
		s := *p.Printer
		q.Printer = &s
	}
	if p.Scanner != nil {
		s := *p.Scanner
		s.InStore = slices.Clone(s.InStore)
		q.Scanner = &s
	}
	if p.Display != nil {
		s := *p.Display
		q.Display = &s
	}
	if p.Drawer != nil {
		s := *p.Drawer
		q.Drawer = &s
	}
	if p.Keypad != nil {
		s := *p.Keypad
		q.Keypad = &s
	}
	return q
}

// bauds are the line speeds a Linux tty (and go.bug.st/serial) can be set to that
// POS peripherals use.
var bauds = []int{1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200, 230400, 460800, 921600}

// printerProfiles are the printer models package printer defines, by name.
var printerProfiles = map[string]printer.Profile{
	printer.DefaultProfile.Name:   printer.DefaultProfile,
	printer.WriteOnlyProfile.Name: printer.WriteOnlyProfile,
}

func printerProfileNames() string {
	var n []string
	for k := range printerProfiles {
		n = append(n, k)
	}
	slices.Sort(n)
	return strings.Join(n, ", ")
}

// printerProfile returns the printer model the spec names.
func (s *PrinterSpec) printerProfile() (printer.Profile, bool) {
	if s.Profile == "" {
		return printer.DefaultProfile, true
	}
	pp, ok := printerProfiles[s.Profile]
	return pp, ok
}

// invalid builds the error for one bad field of one device.
func invalid(profile, device, field, format string, args ...any) error {
	return fmt.Errorf("board: profile %s: %s.%s: %w: %s", profile, device, field, ErrInvalidSpec, fmt.Sprintf(format, args...))
}

func oneOf(v string, choices ...string) bool { return slices.Contains(choices, v) }

// Validate checks every spec on its own and against the others (a drawer kicked through
// the printer needs a printer that wires that pin). Open validates too; Override calls it
// so that a bad config file is refused when it is read. The first problem found is
// returned, in the order printer, scanner, display, drawer, keypad.
func (p *Profile) Validate() error {
	name := p.Name
	if name == "" {
		name = "(unnamed)"
	}
	var pp printer.Profile // the printer's model; zero when the board has no printer
	if s := p.Printer; s != nil {
		var err error
		if pp, err = s.validate(name); err != nil {
			return err
		}
	}
	if s := p.Scanner; s != nil {
		if err := s.validate(name); err != nil {
			return err
		}
	}
	if s := p.Display; s != nil {
		if err := s.validate(name); err != nil {
			return err
		}
	}
	if s := p.Drawer; s != nil {
		if err := s.validate(name, p.Printer != nil, pp); err != nil {
			return err
		}
	}
	if s := p.Keypad; s != nil {
		if err := s.validate(name); err != nil {
			return err
		}
	}
	return nil
}

// validate checks the printer's port and model in the profile called profile, and
// returns the model.
func (s *PrinterSpec) validate(profile string) (printer.Profile, error) {
	switch s.Kind {
	case KindSim:
	case KindSerial:
		if err := checkTTY(profile, "printer", s.Path, s.Baud); err != nil {
			return printer.Profile{}, err
		}
	case KindUSBLP:
		if s.Path == "" {
			return printer.Profile{}, invalid(profile, "printer", "path", "a usblp printer needs its device file (/dev/usb/lp0)")
		}
	case KindTCP:
		if s.Address == "" || !strings.Contains(s.Address, ":") {
			return printer.Profile{}, invalid(profile, "printer", "address", "%q: want host:port (192.168.1.50:9100)", s.Address)
		}
	default:
		return printer.Profile{}, invalid(profile, "printer", "kind", "%q: want sim, serial, usblp or tcp", s.Kind)
	}
	pp, ok := s.printerProfile()
	if !ok {
		return printer.Profile{}, invalid(profile, "printer", "profile", "%q: want one of %s", s.Profile, printerProfileNames())
	}
	return pp, nil
}

// validate checks the scanner's port, suffix and in-store layouts.
func (s *ScannerSpec) validate(profile string) error {
	switch s.Kind {
	case KindSim:
	case KindSerial:
		if err := checkTTY(profile, "scanner", s.Path, s.Baud); err != nil {
			return err
		}
	case KindEvdev:
		if s.Path == "" {
			return invalid(profile, "scanner", "path", "an evdev scanner needs its /dev/input/eventN file")
		}
	default:
		return invalid(profile, "scanner", "kind", "%q: want sim, serial or evdev", s.Kind)
	}
	if s.Suffix > scanner.SuffixNone {
		return invalid(profile, "scanner", "suffix", "%v: want CR, LF, CRLF, TAB or none", s.Suffix)
	}
	// scanner.New checks its options before it looks at the port, so a nil port tells
	// bad options (ErrInvalidOpts) from good ones (ErrNilPort) without starting a Dev.
	o := s.opts()
	if _, err := scanner.New(nil, &o); !errors.Is(err, scanner.ErrNilPort) {
		return invalid(profile, "scanner", "in_store", "%v", err)
	}
	return nil
}

// validate checks the display by its kind: a pole display (or the sim, which stands in
// for one) or an HD44780 LCD.
func (s *DisplaySpec) validate(profile string) error {
	switch s.Kind {
	case KindSim, KindPole:
		return s.validatePole(profile)
	case KindHD44780:
		return s.validateLCD(profile)
	}
	return invalid(profile, "display", "kind", "%q: want sim, pole or hd44780", s.Kind)
}

// validatePole checks a pole display's tty (the sim has none), its size and code page.
func (s *DisplaySpec) validatePole(profile string) error {
	if s.Kind == KindPole {
		if err := checkTTY(profile, "display", s.Path, s.Baud); err != nil {
			return err
		}
	}
	if s.Rows != 2 {
		return invalid(profile, "display", "rows", "%d: a pole display has 2", s.Rows)
	}
	if s.CodePage != "" {
		if _, err := codepage.Lookup(s.CodePage); err != nil {
			return invalid(profile, "display", "code_page", "%q: want one of %s", s.CodePage, strings.Join(codepage.Names(), ", "))
		}
	}
	// The driver checks the rest (columns, that the cut marker shows on the page); its
	// init goes nowhere here.
	if _, err := display.New(io.Discard, &display.Opts{Cols: s.Cols, CodePage: s.CodePage}); err != nil {
		return invalid(profile, "display", "cols", "%v", err)
	}
	return nil
}

// validateLCD checks an HD44780's bus, address and size.
func (s *DisplaySpec) validateLCD(profile string) error {
	if s.Bus == "" {
		return invalid(profile, "display", "bus", "an hd44780 display needs its I2C bus (\"1\" for /dev/i2c-1)")
	}
	if s.Addr < 0x08 || s.Addr > 0x77 {
		return invalid(profile, "display", "addr", "0x%02x: want a 7-bit address 0x08-0x77 (0x27 or 0x3f on PCF8574 backpacks)", uint16(s.Addr))
	}
	if (s.Cols != 16 && s.Cols != 20) || (s.Rows != 2 && s.Rows != 4) {
		return invalid(profile, "display", "cols", "%dx%d: want 16x2, 20x2, 16x4 or 20x4", s.Cols, s.Rows)
	}
	return nil
}

// validate checks how the drawer is kicked and sensed; hasPrinter says whether the board
// has a printer and pp is its model.
func (s *DrawerSpec) validate(profile string, hasPrinter bool, pp printer.Profile) error {
	if err := s.validateKick(profile, hasPrinter, pp); err != nil {
		return err
	}
	return s.validateSense(profile, hasPrinter, pp)
}

// validateKick checks the way the solenoid is fired: the printer's connector pin, or a GPIO
// line.
func (s *DrawerSpec) validateKick(profile string, hasPrinter bool, pp printer.Profile) error {
	switch s.Kick {
	case KindSim:
	case KindPrinter:
		if !hasPrinter {
			return invalid(profile, "drawer", "kick", "kicked through the printer, but the board has no printer")
		}
		if s.Pin != 2 && s.Pin != 5 {
			return invalid(profile, "drawer", "pin", "%d: want the kick-out connector pin, 2 or 5", s.Pin)
		}
		if !slices.Contains(pp.DrawerPins, s.Pin) {
			return invalid(profile, "drawer", "pin", "%d: printer profile %s wires pins %v", s.Pin, pp.Name, pp.DrawerPins)
		}
	case KindGPIO:
		if s.KickGPIO == "" {
			return invalid(profile, "drawer", "kick_gpio", "a GPIO kick needs the line's name (GPIO17)")
		}
	default:
		return invalid(profile, "drawer", "kick", "%q: want printer, gpio or sim", s.Kick)
	}
	return nil
}

// validateSense checks the way the switch is read: the printer's status, or a GPIO line
// other than the kick's.
func (s *DrawerSpec) validateSense(profile string, hasPrinter bool, pp printer.Profile) error {
	switch s.Sense {
	case KindNone, KindSim:
	case KindPrinter:
		if !hasPrinter {
			return invalid(profile, "drawer", "sense", "sensed through the printer, but the board has no printer")
		}
		if !pp.RealTimeStatus && !pp.AutoStatus {
			return invalid(profile, "drawer", "sense", "printer profile %s reports no status, so it cannot read the drawer switch", pp.Name)
		}
	case KindGPIO:
		if s.SenseGPIO == "" {
			return invalid(profile, "drawer", "sense_gpio", "a GPIO sense switch needs the line's name (GPIO27)")
		}
		if s.Kick == KindGPIO && s.SenseGPIO == s.KickGPIO {
			return invalid(profile, "drawer", "sense_gpio", "%s is the kick line too", s.SenseGPIO)
		}
	default:
		return invalid(profile, "drawer", "sense", "%q: want none, printer, gpio or sim", s.Sense)
	}
	return nil
}

// validate checks the keypad's device and its mapping.
func (s *KeypadSpec) validate(profile string) error {
	switch s.Kind {
	case KindSim:
	case KindEvdev:
		if s.Path == "" {
			return invalid(profile, "keypad", "path", "an evdev keypad needs its /dev/input/eventN file")
		}
	default:
		return invalid(profile, "keypad", "kind", "%q: want sim or evdev", s.Kind)
	}
	if _, err := s.Map.Parse(); err != nil {
		return invalid(profile, "keypad", "map", "%v", err)
	}
	return nil
}

func checkTTY(profile, device, path string, baud int) error {
	if path == "" {
		return invalid(profile, device, "path", "a serial device needs its tty (/dev/ttyS0)")
	}
	if !slices.Contains(bauds, baud) {
		return invalid(profile, device, "baud", "%d: want one of %v", baud, bauds)
	}
	return nil
}

// opts are the scanner driver's options for the spec.
func (s *ScannerSpec) opts() scanner.Opts {
	o := scanner.DefaultOpts
	o.Name = "scanner"
	o.Suffix = s.Suffix
	o.AIM = s.AIM
	o.InStore = s.InStore
	return o
}
