package scanner_test

import (
	"fmt"
	"time"

	"tillbox/drivers"
	"tillbox/drivers/scanner"
	"tillbox/drivers/scanner/scannertest"
)

func ExampleParse() {
	opts := &scanner.Opts{InStore: []scanner.InStoreLayout{
		{From: 20, To: 27, Kind: scanner.Price, Item: 5, Value: 5},
		{From: 28, To: 29, Kind: scanner.Weight, Item: 5, Value: 5},
	}}
	for _, line := range []string{"5901234123457", "2812345012505", "5901234123458", "59012\x00"} {
		s := scanner.Parse([]byte(line), opts)
		switch {
		case !s.Good():
			fmt.Printf("%q rejected: %v\n", line, s.Reason)
		case s.InStore != nil:
			fmt.Printf("%v item %s, %s %d\n", s.Symbology, s.InStore.Item, s.InStore.Kind, s.InStore.Value)
		default:
			fmt.Printf("%v %s\n", s.Symbology, s.GTIN)
		}
	}
	// Output:
	// EAN-13 5901234123457
	// EAN-13 item 12345, weight 1250
	// "5901234123458" rejected: bad check digit
	// "59012\x00" rejected: binary noise
}

func ExampleNew() {
	// board would pass a go.bug.st/serial port opened at the scanner's baud; a fake
	// scanner on a pipe behaves the same.
	fake, port := scannertest.Pipe(scanner.SuffixCR)
	defer port.Close()
	dev, err := scanner.New(port, &scanner.Opts{Name: "scanner ttyUSB1", PartialTimeout: 50 * time.Millisecond})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer dev.Halt()
	go func() {
		fake.Scan("96385074")
		fake.Garbage([]byte("\xff\xfe\r"))
		fake.Close()
	}()
	for ev := range dev.Events() {
		switch ev.Kind {
		case scanner.EventScan:
			fmt.Println("scan:", ev.Scan)
		case scanner.EventStatus:
			fmt.Println("status:", ev.Status.State)
			if ev.Status.State == drivers.Offline {
				return
			}
		}
	}
	// Output:
	// status: online
	// scan: EAN-8 96385074
	// scan: rejected (binary noise) "\xff\xfe"
	// status: offline
}
