package printer_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"tillbox/drivers/printer"
	"tillbox/drivers/printer/printertest"
)

// referenceReceipt is the receipt the golden test pins: a Polish, a Turkish and a German
// line, euro amounts, an EAN-13, a QR code, a cut and a drawer kick.
func referenceReceipt() *printer.Doc {
	d := &printer.Doc{}
	return d.Add(
		printer.Text("TILLBOX DEMO").Bold().DoubleSize().Center(),
		printer.Text("Sklep 042 · Kasa 03").Center(),
		printer.Text("S042-T03-000123").Small().Center(),
		printer.Feed(1),
		printer.Columns("Żółć gęślą jaźń 1 szt.", "12,50 €"),
		printer.Columns("Şişli çığ köfte İğne", "8,00 €"),
		printer.Columns("Größe Äpfel für Straße", "3,99 €"),
		printer.Text("Rabatt: -1,00 €").AlignRight().Underline(),
		printer.Columns("SUMME", "23,49 €").Bold().Tall(),
		printer.Feed(1),
		printer.EAN13("5901234123457"),
		printer.QR("https://example.com/r/S042-T03-000123"),
		printer.Text("Dziękujemy · Teşekkürler · Danke").Center(),
		printer.Cut(true),
		printer.Kick(2),
	)
}

// longReceipt has n item lines and a cut: a job of n+2 chunks.
func longReceipt(n int) *printer.Doc {
	d := &printer.Doc{}
	for i := 1; i <= n; i++ {
		d.Add(printer.Columns(fmt.Sprintf("Line %03d Żółw pluszowy", i), fmt.Sprintf("%d,%02d €", i, i%100)))
	}
	d.Add(printer.Text("END"), printer.Cut(false))
	return d
}

// fastOpts keep failure detection short so that the unplug tests finish quickly.
func fastOpts() *printer.Opts {
	o := printer.DefaultOpts
	o.Timeout = 300 * time.Millisecond
	o.Poll = 100 * time.Millisecond
	return &o
}

// newInProcess returns a fake printer and a driver on an in-process cable.
func newInProcess(t *testing.T, fo *printertest.Options, o *printer.Opts) (*printertest.Printer, *printer.Dev) {
	t.Helper()
	fake := printertest.New(fo)
	port := fake.Port()
	t.Cleanup(func() { port.Close() })
	d, err := printer.New(port, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return fake, d
}

// waitStatus waits for an event whose status satisfies cond; it fails the test after a
// generous bound so that a broken driver cannot hang the run.
func waitStatus(t *testing.T, d *printer.Dev, cond func(printer.Status) bool) printer.Status {
	t.Helper()
	if st := d.Status(); cond(st) {
		return st
	}
	deadline := time.After(10 * time.Second)
	for {
		select {
		case ev := <-d.Events():
			if cond(ev.Status) {
				return ev.Status
			}
		case <-deadline:
			t.Fatalf("status never matched; last %v", d.Status())
		}
	}
}

type printResult struct {
	res printer.Result
	err error
}

func printAsync(d *printer.Dev, j printer.Job) <-chan printResult {
	ch := make(chan printResult, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		res, err := d.Print(ctx, j)
		ch <- printResult{res, err}
	}()
	return ch
}

// textLines returns the text of the printed text items.
func textLines(items []printertest.Item) []string {
	var out []string
	for _, it := range items {
		if it.Kind == "text" {
			out = append(out, it.Text)
		}
	}
	return out
}

const testWait = 10 * time.Second

// startLongJob prints a receipt of lines lines as job id and returns, once the fake has
// printed started items of it, the lines expected on paper and the job's result.
func startLongJob(t *testing.T, d *printer.Dev, fake *printertest.Printer, id string, lines, started int) ([]string, <-chan printResult) {
	t.Helper()
	doc := longReceipt(lines)
	want := expected(t, doc, &printer.DefaultProfile)
	done := printAsync(d, printer.Job{ID: id, Doc: doc})
	if !fake.WaitFor(testWait, func(it []printertest.Item) bool { return len(it) >= started }) {
		t.Fatal("job did not start")
	}
	return want, done
}
