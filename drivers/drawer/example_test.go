package drawer_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"tillbox/drivers/drawer"
	"tillbox/drivers/drawer/drawertest"
)

// A drawer kicked through the receipt printer, with its switch on a GPIO: kick it, see it
// open, wait for the cashier to push it shut.
func Example() {
	fake := drawertest.New(nil) // on a board: the printer driver and a periph.io pin
	d, err := drawer.New(drawer.Wiring{Printer: fake.Printer(), SensePin: fake.SensePin()}, &drawer.Opts{
		LeftOpenAfter: 30 * time.Second,
	})
	if err != nil {
		log.Fatal(err)
	}
	defer d.Halt()
	fmt.Println(d)

	if err := d.Kick(); err != nil {
		log.Fatal(err)
	}
	for ev := range d.Events() {
		if ev.Kind == drawer.Opened {
			fmt.Println("drawer", ev.Status)
			break
		}
	}

	go fake.Push() // the cashier
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := d.WaitClosed(ctx); err != nil {
		log.Fatal(err)
	}
	fmt.Println("drawer", d.Status())
	// Output:
	// drawer(kick printer pin 2, sense gpio SENSE(27))
	// drawer open
	// drawer closed
}

// A drawer with no sense switch still opens, but it cannot say whether it is closed.
func Example_noSenseSwitch() {
	fake := drawertest.New(nil)
	d, err := drawer.New(drawer.Wiring{KickPin: fake.KickPin()}, &drawer.Opts{Pulse: 2 * time.Millisecond})
	if err != nil {
		log.Fatal(err)
	}
	defer d.Halt()
	if err := d.Kick(); err != nil {
		log.Fatal(err)
	}
	fmt.Println(d.Status())
	fmt.Println(d.WaitClosed(context.Background()))
	// Output:
	// unknown (no sense switch)
	// drawer: wait closed: no sense switch: drawer state unknown
}
