package printer_test

import (
	"context"
	"fmt"
	"time"

	"tillbox/drivers/printer"
	"tillbox/drivers/printer/printertest"
)

// A receipt printed on the fake printer, as the sim board wires it. On a till, the port
// comes from the board (a serial port, /dev/usb/lp0, a TCP 9100 connection).
func Example() {
	fake := printertest.New(nil)
	port := fake.Port()
	defer port.Close()

	d, err := printer.New(port, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer d.Close()

	doc := (&printer.Doc{}).Add(
		printer.Text("Sklep 042").Bold().Center(),
		printer.Columns("Żurek", "12,50 €"),
		printer.Columns("Çay", "8,00 €"),
		printer.Columns("Brötchen", "0,99 €"),
		printer.EAN13("590123412345"),
		printer.Cut(true),
		printer.Kick(2),
	)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// The job id makes a retry safe: printing it again returns the first result.
	res, err := d.Print(ctx, printer.Job{ID: "S042-T03-000123", Doc: doc})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("printed %d of %d chunks\n", res.Printed, res.Chunks)
	fmt.Print(fake.Text())
	// Output:
	// printed 7 of 7 chunks
	// Sklep 042
	// Żurek                                    12,50 €
	// Çay                                       8,00 €
	// Brötchen                                  0,99 €
	// [EAN13 5901234123457]
	// [cut partial]
	// [kick pin 2]
}
