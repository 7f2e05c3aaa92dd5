package display_test

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"periph.io/x/conn/v3/i2c/i2ctest"

	"tillbox/drivers"
	"tillbox/drivers/display"
	"tillbox/drivers/display/displaytest"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

func noSleep(time.Duration) {}

func newLCD(t *testing.T, cols, rows int, o display.LCDOpts) (*display.Dev, *displaytest.LCD) {
	t.Helper()
	f := displaytest.NewLCD(0x27, cols, rows)
	o.Cols, o.Rows, o.Sleep = cols, rows, noSleep
	d, err := display.NewLCD(f, &o)
	if err != nil {
		t.Fatalf("NewLCD: %v", err)
	}
	t.Cleanup(func() {
		d.Halt()
		if v := f.Violations(); len(v) != 0 {
			t.Errorf("HD44780 protocol violations: %q", v)
		}
	})
	return d, f
}

// Port bytes of the PCF8574 with the backlight on (P3), E on P2 and RS on P0.
const bl, e, rs = 0x08, 0x04, 0x01

// nibbles is how the datasheet's 4-bit write looks on the backpack: RS set up with E low,
// then per byte the high and the low nibble, each with E high then low.
func nibbles(ctl byte, bs ...byte) []byte {
	out := []byte{bs[0]&0xf0 | ctl}
	for _, b := range bs {
		out = append(out, b&0xf0|ctl|e, b&0xf0|ctl, b<<4|ctl|e, b<<4|ctl)
	}
	return out
}

var lcdInit = []i2ctest.IO{
	{Addr: 0x27, W: []byte{bl}}, // probe, E low; then 50 ms
	// 8-bit function set three times (datasheet figure 24), waits 4.1 ms, 100 µs, -.
	{Addr: 0x27, W: []byte{0x30 | bl, 0x30 | bl | e, 0x30 | bl}},
	{Addr: 0x27, W: []byte{0x30 | bl, 0x30 | bl | e, 0x30 | bl}},
	{Addr: 0x27, W: []byte{0x30 | bl, 0x30 | bl | e, 0x30 | bl}},
	{Addr: 0x27, W: []byte{0x20 | bl, 0x20 | bl | e, 0x20 | bl}}, // to 4-bit
	// Function set 4-bit two lines 5x8, display off, clear (then 1.52 ms).
	{Addr: 0x27, W: []byte{0x28, 0x2c, 0x28, 0x8c, 0x88, 0x0c, 0x08, 0x8c, 0x88, 0x0c, 0x08, 0x1c, 0x18}},
	// Entry mode increment, display on with cursor and blink off.
	{Addr: 0x27, W: []byte{0x08, 0x0c, 0x08, 0x6c, 0x68, 0x0c, 0x08, 0xcc, 0xc8}},
}

func TestLCDInitAndShowExactBytes(t *testing.T) {
	row := func(addr byte, text string) []byte {
		return append(nibbles(bl, 0x80|addr), nibbles(bl|rs, []byte(text)...)...)
	}
	frame := append(row(0x00, "Tea         1.20"), row(0x40, "TOTAL       1.20")...)
	pb := &i2ctest.Playback{Ops: append(slices.Clone(lcdInit), i2ctest.IO{Addr: 0x27, W: frame}), DontPanic: true}
	d, err := display.NewLCD(pb, &display.LCDOpts{Sleep: noSleep})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Show(display.Layout{Top: display.Line{"Tea", "1.20"}, Bottom: display.Line{"TOTAL", "1.20"}}); err != nil {
		t.Fatal(err)
	}
	if err := pb.Close(); err != nil {
		t.Fatal(err)
	}
}

// The golden file holds every I2C write of a Polish frame on a 20x4, custom characters
// included, one transaction per line in hex. Run with -update to rewrite it after an
// intended change, and read the diff.
func TestLCDGoldenPolishFrame(t *testing.T) {
	rec := &i2ctest.Record{}
	d, err := display.NewLCD(rec, &display.LCDOpts{Cols: 20, Rows: 4, Sleep: noSleep})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Show(display.Layout{Top: display.Line{"Żółć łąka", "9,99"}, Bottom: display.Line{"SUMA", "19,98"}}); err != nil {
		t.Fatal(err)
	}
	var sb strings.Builder
	for _, op := range rec.Ops {
		fmt.Fprintf(&sb, "%#02x % x\n", op.Addr, op.W)
	}
	path := filepath.Join("testdata", "lcd_20x4_polish.golden")
	if *update {
		if err := os.WriteFile(path, []byte(sb.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if sb.String() != string(want) {
		t.Fatalf("I2C writes differ from %s:\n%s", path, sb.String())
	}
	// The same bytes, played into the fake, read back as the intended screen.
	f := displaytest.NewLCD(0x27, 20, 4)
	for _, op := range rec.Ops {
		if err := f.Tx(op.Addr, op.W, nil); err != nil {
			t.Fatal(err)
		}
	}
	wantScreen := []string{"Żółć łąka       9,99", "                    ", "                    ", "SUMA           19,98"}
	if got := f.Lines(); !slices.Equal(got, wantScreen) {
		t.Fatalf("fake reads %q, want %q", got, wantScreen)
	}
	if v := f.Violations(); len(v) != 0 {
		t.Fatalf("violations %q", v)
	}
}

func TestLCDScreen(t *testing.T) {
	for _, tc := range []struct {
		name       string
		cols, rows int
		o          display.LCDOpts
		layout     display.Layout
		want       []string
		missing    string
	}{
		{"16x2 item and total", 16, 2, display.LCDOpts{},
			display.Layout{Top: display.Line{"Bread", "2.10"}, Bottom: display.Line{"TOTAL", "12.40"}},
			[]string{"Bread       2.10", "TOTAL      12.40"}, ""},
		{"16x2 long item cut with the marker", 16, 2, display.LCDOpts{},
			display.Layout{Top: display.Line{"Chocolate dark 70%", "3.49"}},
			[]string{"Chocolate.  3.49", "                "}, ""},
		{"20x4 total on the last row", 20, 4, display.LCDOpts{},
			display.Layout{Top: display.Line{"Milk", "1.29"}, Bottom: display.Line{"CHANGE", "8.71"}},
			[]string{"Milk            1.29", "                    ", "                    ", "CHANGE          8.71"}, ""},
		{"Polish letters from CGRAM", 16, 2, display.LCDOpts{},
			display.Layout{Top: display.Line{"Żółć", "5,00"}, Bottom: display.Line{"Gęś", "1,00"}},
			[]string{"Żółć        5,00", "Gęś         1,00"}, ""},
		{"Turkish letters from CGRAM", 20, 2, display.LCDOpts{},
			display.Layout{Top: display.Line{"Şeker İğne", "3,50"}, Bottom: display.Line{"TOPLAM", "3,50"}},
			[]string{"Şeker İğne      3,50", "TOPLAM          3,50"}, ""},
		{"German from ROM and CGRAM, euro from CGRAM", 20, 2, display.LCDOpts{},
			display.Layout{Top: display.Line{"Größe Ölbrötchen", "€1"}, Bottom: display.Line{"SUMME", "€ 2,90"}},
			[]string{"Größe Ölbrötchen  €1", "SUMME         € 2,90"}, ""},
		{"a ninth distinct letter falls back to its base", 20, 2, display.LCDOpts{},
			display.Layout{Top: display.Line{Left: "ąćęłńóśźż"}},
			[]string{"ąćęłńóśźz           ", "                    "}, "ż"},
		{"NoGlyphs transliterates", 16, 2, display.LCDOpts{NoGlyphs: true},
			display.Layout{Top: display.Line{"Żółć", "5,00"}, Bottom: display.Line{"SUMA", "€ 5"}},
			[]string{"Zolc        5,00", "SUMA       EUR 5"}, "Żółć€"},
		{"unknown character and ROM gaps show as ? and fallback", 16, 2, display.LCDOpts{},
			display.Layout{Top: display.Line{"Tea ☕ a\\b", "1"}},
			[]string{"Tea ? a?b      1", "                "}, "☕\\"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, f := newLCD(t, tc.cols, tc.rows, tc.o)
			if err := d.Show(tc.layout); err != nil {
				t.Fatal(err)
			}
			if got := f.Lines(); !slices.Equal(got, tc.want) {
				t.Fatalf("screen\n%s|\nwant\n%s|", strings.Join(got, "|\n"), strings.Join(tc.want, "|\n"))
			}
			if got := d.Status().Screen; !slices.Equal(got, tc.want) {
				t.Fatalf("Status().Screen %q, want %q", got, tc.want)
			}
			if got := string(d.Status().Missing); got != tc.missing {
				t.Fatalf("missing %q, want %q", got, tc.missing)
			}
		})
	}
}

func TestLCDKeepsLoadedGlyphsAcrossFrames(t *testing.T) {
	d, f := newLCD(t, 16, 2, display.LCDOpts{})
	if err := d.Show(display.Layout{Top: display.Line{"ąę", "1"}}); err != nil {
		t.Fatal(err)
	}
	first := [2]display.Glyph{f.CGRAM(0), f.CGRAM(1)}
	if err := d.Show(display.Layout{Top: display.Line{"ęł", "2"}, Bottom: display.Line{"ą", "3"}}); err != nil {
		t.Fatal(err)
	}
	if got := [2]display.Glyph{f.CGRAM(0), f.CGRAM(1)}; got != first {
		t.Fatal("glyphs still on screen were moved to other slots")
	}
	want := [][]string{
		{"ąę             1", "                "},
		{"ęł             2", "ą              3"},
	}
	if got := f.History(); !slices.EqualFunc(got, want, slices.Equal) {
		t.Fatalf("history %q, want %q", got, want)
	}
}

func TestLCDHaltBlanksAndTurnsTheBacklightOff(t *testing.T) {
	d, f := newLCD(t, 16, 2, display.LCDOpts{})
	if err := d.Show(display.Layout{Top: display.Line{"Bread", "2.10"}}); err != nil {
		t.Fatal(err)
	}
	if !f.Backlight() || !f.On() {
		t.Fatal("backlight or display off while showing")
	}
	if err := d.Halt(); err != nil {
		t.Fatal(err)
	}
	if f.Backlight() || f.On() {
		t.Fatalf("after Halt: backlight %v display %v, want both off", f.Backlight(), f.On())
	}
	if err := d.Clear(); !errors.Is(err, display.ErrHalted) {
		t.Fatalf("Clear after Halt = %v", err)
	}
}

func TestLCDWithoutABackpackAtTheAddressStartsOffline(t *testing.T) {
	f := displaytest.NewLCD(0x3f, 16, 2)
	d, err := display.NewLCD(f, &display.LCDOpts{Addr: 0x27, Sleep: noSleep})
	if err != nil {
		t.Fatalf("NewLCD = %v, want an Offline Dev", err)
	}
	st := d.Status()
	if st.State != drivers.Offline || !errors.Is(st.Err, displaytest.ErrNoAck) || !strings.HasPrefix(st.Err.Error(), "display: new: ") {
		t.Fatalf("Status = %v %v, want Offline with display: new: wrapping ErrNoAck", st.State, st.Err)
	}
	if err := d.Show(display.Layout{Top: display.Line{"Bread", "2.10"}}); !errors.Is(err, display.ErrOffline) || !errors.Is(err, displaytest.ErrNoAck) {
		t.Fatalf("Show = %v, want ErrOffline wrapping the cause", err)
	}
	// The technician sets the jumpers right: the same Dev comes up on the bus.
	right := displaytest.NewLCD(0x27, 16, 2)
	if err := d.ReattachLCD(right); err != nil {
		t.Fatal(err)
	}
	if got := right.Lines()[0]; got != "Bread       2.10" {
		t.Fatalf("row %q after ReattachLCD", got)
	}
}

func TestLCDBusFailureTakesItOfflineUntilReattachReloadsGlyphs(t *testing.T) {
	d, f := newLCD(t, 16, 2, display.LCDOpts{})
	if err := d.Show(display.Layout{Top: display.Line{"Łódź", "1"}}); err != nil {
		t.Fatal(err)
	}
	pulled := errors.New("remote I/O error")
	f.Fail(pulled)
	if err := d.Show(display.Layout{Top: display.Line{"Żółć", "2"}}); !errors.Is(err, pulled) {
		t.Fatalf("Show = %v, want the bus error", err)
	}
	if st := d.Status(); st.State != drivers.Offline || !errors.Is(st.Err, pulled) {
		t.Fatalf("Status = %v %v, want Offline with the bus error", st.State, st.Err)
	}
	f.Fail(nil)
	txs := f.Txs()
	if err := d.Show(display.Layout{Top: display.Line{"Ćma", "3"}}); !errors.Is(err, display.ErrOffline) {
		t.Fatalf("Show while offline = %v, want ErrOffline", err)
	}
	if f.Txs() != txs {
		t.Fatal("an Offline display was written to before Reattach")
	}
	if err := d.ReattachLCD(f); err != nil {
		t.Fatal(err)
	}
	if got := f.Lines()[0]; got != "Ćma            3" {
		t.Fatalf("row %q, want the last layout", got)
	}
	if st := d.Status(); st.State != drivers.Online || st.Err != nil {
		t.Fatalf("Status = %v %v after ReattachLCD", st.State, st.Err)
	}
}

func TestLCDRejectsBadOptions(t *testing.T) {
	for _, o := range []display.LCDOpts{
		{Cols: 40, Rows: 2},
		{Cols: 16, Rows: 3},
		{Addr: 0x80},
		{Marker: '~'},
	} {
		o.Sleep = noSleep
		if _, err := display.NewLCD(displaytest.NewLCD(0x27, 16, 2), &o); !errors.Is(err, display.ErrInvalidOpts) {
			t.Errorf("NewLCD(%+v) = %v, want ErrInvalidOpts", o, err)
		}
	}
}
