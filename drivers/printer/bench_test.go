package printer_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"go.bug.st/serial"

	"tillbox/board/pty"
	"tillbox/drivers/printer"
	"tillbox/drivers/printer/printertest"
)

// BenchmarkReceiptOverPty115200 streams a 60-line receipt through go.bug.st/serial to a
// pty whose master a fake printer reads at 115200 baud (10 bits per byte, 11,520 B/s).
// It reports the bytes that crossed the line per second beside that limit: the driver's
// own cost (chunk confirmations, waits) is what keeps the ratio below 100%.
func BenchmarkReceiptOverPty115200(b *testing.B) {
	const baud = 115200
	limit := float64(baud) / 10
	p, err := pty.Open()
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { p.Close() })
	fake := printertest.New(&printertest.Options{Baud: baud})
	go fake.Serve(p.Master)
	port, err := serial.Open(p.SlavePath, &serial.Mode{BaudRate: baud})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { port.Close() })
	o := printer.DefaultOpts
	o.Poll = -1 // the poll's own bytes would count as receipt bytes
	d, err := printer.New(port, &o)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { d.Close() })
	doc := longReceipt(58) // 58 item lines, END and a cut: 60 chunks
	var bytes int64
	var elapsed time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		before := fake.Received()
		start := time.Now()
		if _, err := d.Print(context.Background(), printer.Job{ID: fmt.Sprint(i), Doc: doc}); err != nil {
			b.Fatal(err)
		}
		elapsed += time.Since(start)
		bytes += fake.Received() - before
	}
	rate := float64(bytes) / elapsed.Seconds()
	b.ReportMetric(rate, "B/s")
	b.ReportMetric(limit, "limit-B/s")
	b.ReportMetric(100*rate/limit, "%-of-line")
	b.ReportMetric(float64(bytes)/float64(b.N), "B/receipt")
}
