package uplink_test

import (
	"context"
	"log"

	"tillbox/ledger"
	"tillbox/ledger/journal"
	"tillbox/uplink"
	"tillbox/uplink/wire"
)

// The firmware's side of the uplink: create it over the open ledger, run it for the life
// of the box, tell it after each Append, and read its state for the operator display.
func Example() {
	l, err := ledger.Open("/data/till.ledger", &ledger.Options{Store: "s042", Till: "t03"})
	if err != nil {
		log.Fatal(err)
	}
	defer l.Close()
	up, err := uplink.New(l, &uplink.Options{
		Broker: "ssl://hq.example:8883",
		Info: func() uplink.Info {
			return uplink.Info{Version: "1.4.0", Board: "rpi4", Devices: []wire.Device{{Name: "printer", State: "online"}}}
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	go up.Run(ctx)

	sale := journal.Entry{Kind: journal.KindSale, Offline: !up.State().Online}
	if _, err := l.Append(sale); err != nil {
		log.Fatal(err)
	}
	up.Notify()

	if cat := up.Catalog(); cat != nil {
		_ = cat.Item("100") // price lookups come from the catalog in use
	}
	p := up.State().Progress
	log.Printf("sync: %d sent, %d acknowledged of %d", p.Sent, p.Acked, p.Total)
	up.Alert(wire.Event{Kind: wire.EventPaperOut, Severity: wire.SeverityWarning})
}
