package board_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log"
	"log/slog"
	"time"

	"tillbox/board"
	"tillbox/drivers/printer"
	"tillbox/drivers/scanner"
)

// The firmware's start: look the board up, apply the config file's device sections, open
// it, and read the devices' events. On the sim board the fakes in Set.Sim play the
// customer and the cashier.
func Example() {
	p, err := board.Lookup("sim")
	if err != nil {
		log.Fatal(err)
	}
	// What a till's config file would say under "devices".
	cfg := map[string]json.RawMessage{
		"scanner": json.RawMessage(`{"suffix": "CR"}`),
		"keypad":  json.RawMessage(`{"map": "KEY_F5 = CASH\nKEY_ENTER = ENTER"}`),
	}
	if err := p.Override(cfg); err != nil {
		log.Fatal(err)
	}
	s, err := board.Open(p, &board.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()

	s.Sim.Scanner.Scan("4006381333931")
	for ev := range s.Scanner.Events() {
		if ev.Kind == scanner.EventScan {
			fmt.Println("scanned", ev.Scan.GTIN, ev.Scan.Good())
			break
		}
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	doc := new(printer.Doc).Add(printer.Text("Dziękujemy!").Center())
	if _, err := s.Printer.Print(ctx, printer.Job{ID: "receipt-1", Doc: doc}); err != nil {
		log.Fatal(err)
	}
	fmt.Print(s.Sim.Printer.Text())

	for _, h := range s.Health() {
		if h.Name == "printer" {
			fmt.Println(h.Name, h.State)
		}
	}
	// Output:
	// scanned 4006381333931 true
	// Dziękujemy!
	// printer ok
}

func ExampleLookup() {
	p, err := board.Lookup("qemu-virt")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(p.Printer.Kind, p.Printer.Path, p.Printer.Baud)
	fmt.Println(p.Drawer.Kick, p.Drawer.Pin, p.Drawer.Sense)

	_, err = board.Lookup("rpi3")
	fmt.Println(err)
	// Output:
	// serial /dev/ttyS0 115200
	// printer 2 printer
	// board: lookup "rpi3": unknown board profile (known: qemu-virt, rpi4, sim)
}
