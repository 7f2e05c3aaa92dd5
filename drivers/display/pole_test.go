package display_test

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"go.bug.st/serial"

	"tillbox/board/pty"
	"tillbox/drivers"
	"tillbox/drivers/display"
	"tillbox/drivers/display/displaytest"
)

func newPole(t *testing.T, page string) (*display.Dev, *displaytest.Pole) {
	t.Helper()
	f := displaytest.NewPole(20)
	d, err := display.New(f, &display.Opts{CodePage: page})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() {
		d.Halt()
		if u := f.Unknown(); len(u) != 0 {
			t.Errorf("display did not understand %q", u)
		}
	})
	return d, f
}

func TestPoleInitialisesWithTheEpsonSequence(t *testing.T) {
	var got bytes.Buffer
	if _, err := display.New(&got, &display.Opts{CodePage: "cp852", Brightness: 3}); err != nil {
		t.Fatal(err)
	}
	want := []byte{
		0x1b, 0x40, // ESC @: initialise
		0x1f, 0x01, // US MD1: overwrite mode
		0x1f, 0x43, 0x00, // US C 0: cursor off
		0x1b, 0x74, 18, // ESC t 18: PC852
		0x1f, 0x58, 3, // US X 3: brightness
		0x0c, // CLR
	}
	if !bytes.Equal(got.Bytes(), want) {
		t.Fatalf("init bytes\n got % x\nwant % x", got.Bytes(), want)
	}
}

func TestPoleShowWritesEachRowWholeInOneWrite(t *testing.T) {
	var w recorder
	d, err := display.New(&w, &display.Opts{CodePage: "cp852"})
	if err != nil {
		t.Fatal(err)
	}
	w.writes = nil
	if err := d.Show(display.Layout{
		Top:    display.Line{Left: "Masło", Right: "7,49"},
		Bottom: display.Line{Left: "SUMA", Right: "23,10"},
	}); err != nil {
		t.Fatal(err)
	}
	want := []byte("\x1f$\x01\x01" + "Mas\x88o           7,49" + "\x1f$\x01\x02" + "SUMA           23,10")
	if len(w.writes) != 1 || !bytes.Equal(w.writes[0], want) {
		t.Fatalf("writes %q\nwant one write %q", w.writes, want)
	}
}

type recorder struct{ writes [][]byte }

func (r *recorder) Write(b []byte) (int, error) {
	r.writes = append(r.writes, slices.Clone(b))
	return len(b), nil
}

func TestPoleScreen(t *testing.T) {
	for _, tc := range []struct {
		name    string
		page    string
		layout  display.Layout
		want    []string
		missing string
	}{
		{"item left price right", "cp437",
			display.Layout{Top: display.Line{"Milk 2%", "1.29"}, Bottom: display.Line{"TOTAL", "1.29"}},
			[]string{"Milk 2%         1.29", "TOTAL           1.29"}, ""},
		{"item exactly fills the room beside the price", "cp437",
			display.Layout{Top: display.Line{"Tomato soup 4", "12.99"}},
			[]string{"Tomato soup 4  12.99", "                    "}, ""},
		{"item one cell too long is cut with the marker", "cp437",
			display.Layout{Top: display.Line{"Tomato soup 400", "12.99"}},
			[]string{"Tomato soup 4. 12.99", "                    "}, ""},
		{"long item is cut and the price stays whole", "cp437",
			display.Layout{Top: display.Line{"Chocolate bar dark 70% cocoa", "3.49"}},
			[]string{"Chocolate bar.  3.49", "                    "}, ""},
		{"blank before the marker is dropped", "cp437",
			display.Layout{Top: display.Line{"Orange juice big", "12.99"}},
			[]string{"Orange juice.  12.99", "                    "}, ""},
		{"no price: the item takes the whole row", "cp437",
			display.Layout{Top: display.Line{Left: "Welcome to the shop today"}},
			[]string{"Welcome to the shop.", "                    "}, ""},
		{"amount only", "cp437",
			display.Layout{Bottom: display.Line{Right: "100.00"}},
			[]string{"                    ", "              100.00"}, ""},
		{"change line", "cp437",
			display.Layout{Top: display.Line{"CASH", "50.00"}, Bottom: display.Line{"CHANGE", "26.90"}},
			[]string{"CASH           50.00", "CHANGE         26.90"}, ""},
		{"control characters show as blanks", "cp437",
			display.Layout{Top: display.Line{"Tea\tgreen\n", "2.00"}},
			[]string{"Tea green       2.00", "                    "}, ""},
		{"Polish on cp852", "cp852",
			display.Layout{Top: display.Line{"Żółć gęślą jaźń", "9,99"}, Bottom: display.Line{"SUMA", "19,98"}},
			[]string{"Żółć gęślą jaźń 9,99", "SUMA           19,98"}, ""},
		{"Polish capitals cut on cp852", "cp852",
			display.Layout{Top: display.Line{"ŁÓDŹ ŚLĄSK ĆMA ŃĘ Ż", "1,00"}},
			[]string{"ŁÓDŹ ŚLĄSK ĆMA. 1,00", "                    "}, ""},
		{"Turkish on cp857", "cp857",
			display.Layout{Top: display.Line{"Şeker ığdır İÇ", "₺5"}, Bottom: display.Line{"TOPLAM", "12,50"}},
			[]string{"Şeker ığdır İÇ   TL5", "TOPLAM         12,50"}, "₺"},
		{"German with euro on cp858", "cp858",
			display.Layout{Top: display.Line{"Brötchen Größe XL", "€ 0,45"}, Bottom: display.Line{"SUMME", "€ 3,15"}},
			[]string{"Brötchen Grö. € 0,45", "SUMME         € 3,15"}, ""},
		{"euro on a page without it is laid out as EUR", "cp852",
			display.Layout{Top: display.Line{"Kawa ziarnista", "€ 4,50"}},
			[]string{"Kawa ziarn. EUR 4,50", "                    "}, "€"},
		{"Polish on cp437 falls back to plain letters", "cp437",
			display.Layout{Top: display.Line{"Żółć", "1,00"}},
			[]string{"Zólc            1,00", "                    "}, "Żłć"},
		{"unknown character shows as ?", "cp852",
			display.Layout{Top: display.Line{"Kawa ☕ duża", "8,00"}},
			[]string{"Kawa ? duża     8,00", "                    "}, "☕"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, f := newPole(t, tc.page)
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

func TestPoleRefusesAnAmountWiderThanTheDisplayAndKeepsTheScreen(t *testing.T) {
	d, f := newPole(t, "cp437")
	if err := d.Show(display.Layout{Top: display.Line{"Bread", "2.10"}}); err != nil {
		t.Fatal(err)
	}
	before := f.Lines()
	err := d.Show(display.Layout{Top: display.Line{"Gold", "1,000,000,000,000.00 USD"}})
	if !errors.Is(err, display.ErrNoRoom) {
		t.Fatalf("Show = %v, want ErrNoRoom", err)
	}
	if got := f.Lines(); !slices.Equal(got, before) {
		t.Fatalf("screen changed to %q", got)
	}
}

func TestPoleHistoryKeepsEachLayoutShown(t *testing.T) {
	d, f := newPole(t, "cp852")
	for _, l := range []display.Layout{
		{Top: display.Line{"Chleb", "4,20"}, Bottom: display.Line{"SUMA", "4,20"}},
		{Top: display.Line{"Mleko", "3,49"}, Bottom: display.Line{"SUMA", "7,69"}},
		{Top: display.Line{"GOTÓWKA", "10,00"}, Bottom: display.Line{"RESZTA", "2,31"}},
	} {
		if err := d.Show(l); err != nil {
			t.Fatal(err)
		}
	}
	if err := d.Clear(); err != nil {
		t.Fatal(err)
	}
	want := [][]string{
		{"Chleb           4,20", "SUMA            4,20"},
		{"Mleko           3,49", "SUMA            7,69"},
		{"GOTÓWKA        10,00", "RESZTA          2,31"},
		{"                    ", "                    "},
	}
	if got := f.History(); !slices.EqualFunc(got, want, slices.Equal) {
		t.Fatalf("history %q\nwant %q", got, want)
	}
}

func TestPoleHaltBlanksTheScreenAndRefusesLaterCalls(t *testing.T) {
	d, f := newPole(t, "cp437")
	if err := d.Show(display.Layout{Top: display.Line{"Bread", "2.10"}}); err != nil {
		t.Fatal(err)
	}
	if err := d.Halt(); err != nil {
		t.Fatal(err)
	}
	if got := f.Lines(); strings.TrimSpace(strings.Join(got, "")) != "" {
		t.Fatalf("screen after Halt %q, want blank", got)
	}
	if err := d.Show(display.Layout{}); !errors.Is(err, display.ErrHalted) {
		t.Fatalf("Show after Halt = %v, want ErrHalted", err)
	}
}

type brokenLine struct{ err error }

func (b brokenLine) Write([]byte) (int, error) { return 0, b.err }

func TestPoleWriteFailureTakesItOfflineUntilReattach(t *testing.T) {
	cut := errors.New("input/output error")
	var line switchable
	d, err := display.New(&line, nil)
	if err != nil {
		t.Fatal(err)
	}
	line.w = brokenLine{cut}
	err = d.Show(display.Layout{Top: display.Line{"Bread", "2.10"}})
	if !errors.Is(err, cut) || !strings.HasPrefix(err.Error(), "display: show: ") {
		t.Fatalf("Show = %v, want display: show: wrapping the line's error", err)
	}
	if st := d.Status(); st.State != drivers.Offline || !errors.Is(st.Err, cut) {
		t.Fatalf("Status = %v %v, want Offline with the line's error", st.State, st.Err)
	}
	var glass bytes.Buffer
	line.w = &glass
	err = d.Show(display.Layout{Top: display.Line{"Milk", "1.29"}})
	if !errors.Is(err, display.ErrOffline) || !errors.Is(err, cut) {
		t.Fatalf("Show while offline = %v, want ErrOffline wrapping the cause", err)
	}
	if glass.Len() != 0 {
		t.Fatalf("an Offline display was written to: %q", glass.Bytes())
	}
	if err := d.Reattach(&line); err != nil {
		t.Fatal(err)
	}
	if st := d.Status(); st.State != drivers.Online || st.Err != nil {
		t.Fatalf("Status = %v %v after Reattach", st.State, st.Err)
	}
	if !bytes.Contains(glass.Bytes(), []byte("Milk")) {
		t.Fatalf("Reattach wrote %q, not the last layout", glass.Bytes())
	}
}

type switchable struct {
	w interface{ Write([]byte) (int, error) }
}

func (s *switchable) Write(b []byte) (int, error) {
	if s.w == nil {
		return len(b), nil
	}
	return s.w.Write(b)
}

func TestPoleRejectsBadOptions(t *testing.T) {
	for _, o := range []display.Opts{
		{CodePage: "cp1250"},
		{Cols: 4},
		{Brightness: 5},
		{Marker: '…'},
		{WriteTimeout: -time.Second},
	} {
		if _, err := display.New(&bytes.Buffer{}, &o); !errors.Is(err, display.ErrInvalidOpts) {
			t.Errorf("New(%+v) = %v, want ErrInvalidOpts", o, err)
		}
	}
}

// The pole display on a real serial line: the driver opens the pty's slave through
// go.bug.st/serial at 9600 baud, the fake reads the master.
func TestPoleOverAPTY(t *testing.T) {
	pair, err := pty.Open()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pair.Close() })
	port, err := serial.Open(pair.SlavePath, &serial.Mode{BaudRate: 9600})
	if err != nil {
		t.Fatalf("serial open %s: %v", pair.SlavePath, err)
	}
	t.Cleanup(func() { port.Close() })

	f := displaytest.NewPole(20)
	served := make(chan error, 1)
	go func() { served <- f.Serve(pair.Master) }()

	d, err := display.New(port, &display.Opts{CodePage: "cp852"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Halt() })
	if err := d.Show(display.Layout{
		Top:    display.Line{"Piwo żywiec jasne pełne 0,5l", "3,99"},
		Bottom: display.Line{"SUMA", "15,96"},
	}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	if err := f.WaitFor(ctx, "Piwo żywiec ja. 3,99", "SUMA           15,96"); err != nil {
		t.Fatal(err)
	}
	if got := f.Page(); got != "cp852" {
		t.Fatalf("page %s, want cp852", got)
	}
	if mode, cursor, _ := f.Mode(); mode != 1 || cursor {
		t.Fatalf("mode %d cursor %v, want overwrite and hidden", mode, cursor)
	}
	if u := f.Unknown(); len(u) != 0 {
		t.Fatalf("display did not understand %q", u)
	}
	// Closing the last slave descriptor makes the master read EIO: the fake sees the
	// cable pulled and stops.
	d.Halt()
	port.Close()
	select {
	case <-served:
	case <-time.After(10 * time.Second):
		t.Fatal("fake still reading after the line was closed")
	}
}
