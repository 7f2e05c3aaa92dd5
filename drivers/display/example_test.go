package display_test

import (
	"fmt"
	"log"
	"time"

	"tillbox/drivers/display"
	"tillbox/drivers/display/displaytest"
)

// A pole display on a serial line (here the fake; on a board, the port board opened).
func Example() {
	pole := displaytest.NewPole(20)
	d, err := display.New(pole, &display.Opts{CodePage: "cp852"})
	if err != nil {
		log.Fatal(err)
	}
	defer d.Halt()
	if err := d.Show(display.Layout{
		Top:    display.Line{Left: "Ser żółty gouda plastry", Right: "12,49"},
		Bottom: display.Line{Left: "SUMA", Right: "31,07"},
	}); err != nil {
		log.Fatal(err)
	}
	for _, l := range pole.Lines() {
		fmt.Printf("[%s]\n", l)
	}
	// Output:
	// [Ser żółty gou. 12,49]
	// [SUMA           31,07]
}

// An HD44780 16x2 behind a PCF8574 at 0x27 on an I2C bus (here the fake bus).
func ExampleNewLCD() {
	bus := displaytest.NewLCD(0x27, 16, 2)
	d, err := display.NewLCD(bus, &display.LCDOpts{Addr: 0x27, Cols: 16, Rows: 2, Sleep: func(time.Duration) {}})
	if err != nil {
		log.Fatal(err)
	}
	defer d.Halt()
	if err := d.Show(display.Layout{
		Top:    display.Line{Left: "Gotówka", Right: "50,00"},
		Bottom: display.Line{Left: "Reszta", Right: "18,93"},
	}); err != nil {
		log.Fatal(err)
	}
	for _, l := range bus.Lines() {
		fmt.Printf("[%s]\n", l)
	}
	fmt.Println(d)
	// Output:
	// [Gotówka    50,00]
	// [Reszta     18,93]
	// lcd 16x2 hd44780 at 0x27
}
