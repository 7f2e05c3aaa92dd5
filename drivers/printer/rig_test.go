package printer_test

import (
	"io"
	"slices"
	"sync"
	"testing"

	"go.bug.st/serial"

	"tillbox/board/pty"
	"tillbox/drivers/printer"
	"tillbox/drivers/printer/printertest"
)

// rig is a driver and a fake joined by a transport that can be unplugged and replugged.
type rig struct {
	fake   *printertest.Printer
	dev    *printer.Dev
	unplug func()
	replug func()
}

type transport struct {
	name string
	open func(t *testing.T, fo *printertest.Options, o *printer.Opts) *rig
}

var transports = []transport{
	{"in-process", openInProcess},
	{"pty", openPty},
}

func openInProcess(t *testing.T, fo *printertest.Options, o *printer.Opts) *rig {
	fake, d := newInProcess(t, fo, o)
	return &rig{
		fake:   fake,
		dev:    d,
		unplug: fake.Unplug,
		replug: func() {
			port := fake.Port()
			t.Cleanup(func() { port.Close() })
			if err := d.Reattach(port); err != nil {
				t.Fatal(err)
			}
		},
	}
}

// openPty serves the fake on the master of a pty and opens the slave through
// go.bug.st/serial at 115200 baud, as the board opens a USB serial printer. Unplug closes
// the master (the driver then reads EIO); replug opens a new pair.
func openPty(t *testing.T, fo *printertest.Options, o *printer.Opts) *rig {
	fake := printertest.New(fo)
	var mu sync.Mutex
	var pair *pty.Pair
	connect := func() serial.Port {
		p, err := pty.Open()
		if err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		pair = p
		mu.Unlock()
		t.Cleanup(func() { p.Close() })
		go fake.Serve(p.Master)
		port, err := serial.Open(p.SlavePath, &serial.Mode{BaudRate: 115200})
		if err != nil {
			t.Fatalf("serial open %s: %v", p.SlavePath, err)
		}
		t.Cleanup(func() { port.Close() })
		return port
	}
	d, err := printer.New(connect(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return &rig{
		fake: fake,
		dev:  d,
		unplug: func() {
			mu.Lock()
			defer mu.Unlock()
			pair.Close()
		},
		replug: func() {
			if err := d.Reattach(connect()); err != nil {
				t.Fatal(err)
			}
		},
	}
}

// expected is what the fake prints for doc when nothing goes wrong: one item per chunk.
func expected(t *testing.T, doc *printer.Doc, prof *printer.Profile) []string {
	t.Helper()
	r, err := printer.Render(doc, prof)
	if err != nil {
		t.Fatal(err)
	}
	items, unknown := printertest.Decode(r.Bytes())
	if len(unknown) != 0 || len(items) != len(r.Chunks) {
		t.Fatalf("decode of the rendered job: %d items for %d chunks, unknown %v", len(items), len(r.Chunks), unknown)
	}
	out := make([]string, len(items))
	for i, it := range items {
		out[i] = it.String()
	}
	return out
}

// checkOnce checks the printout against want: every chunk printed at most once and in
// order; every chunk not in res.InDoubt printed; the in-doubt mark present exactly when
// something is in doubt. Items printed by earlier jobs are skipped by from.
func checkOnce(t *testing.T, got []printertest.Item, want []string, res printer.Result) {
	t.Helper()
	var marks int
	var printed []string
	for _, it := range got {
		if it.Kind == "text" && it.Text == printer.InDoubtMark {
			marks++
			continue
		}
		printed = append(printed, it.String())
	}
	i := 0
	for _, p := range printed {
		for i < len(want) && want[i] != p {
			if !slices.Contains(res.InDoubt, i) {
				t.Errorf("chunk %d %q is missing and not reported in doubt (in doubt: %v)", i, want[i], res.InDoubt)
			}
			i++
		}
		if i == len(want) {
			t.Errorf("printed %q out of order or twice", p)
			continue
		}
		i++
	}
	for ; i < len(want); i++ {
		if !slices.Contains(res.InDoubt, i) {
			t.Errorf("chunk %d %q is missing and not reported in doubt", i, want[i])
		}
	}
	if (marks > 0) != (len(res.InDoubt) > 0) {
		t.Errorf("%d in-doubt marks printed for %d chunks in doubt", marks, len(res.InDoubt))
	}
	if !res.Done || res.Printed+len(res.InDoubt) != res.Chunks {
		t.Errorf("result %+v: want done with printed + in doubt = chunks", res)
	}
}

var _ io.Closer = serial.Port(nil)
