package printer_test

import (
	"context"
	"testing"

	"tillbox/drivers/printer"
	"tillbox/drivers/printer/printertest"
)

// TestExactBytesOnTheWire pins the conversation of New and one Print: enabling
// automatic status, the status probe, ESC @, and a chunk followed by its GS r 1.
func TestExactBytesOnTheWire(t *testing.T) {
	pb := &printertest.Playback{Ops: []printertest.IO{
		{W: []byte{0x1d, 'a', 0x0f}, R: []byte{0x10, 0x00, 0x00, 0x00}},
		{W: []byte{0x10, 0x04, 1}, R: []byte{0x12}},
		{W: []byte{0x10, 0x04, 2}, R: []byte{0x12}},
		{W: []byte{0x10, 0x04, 4}, R: []byte{0x12}},
		{W: []byte{0x1b, '@', 0x1d, 'a', 0x0f}},
		{W: []byte{0x1b, 't', 19, 'H', 'i', ' ', 0xd5, '\n', 0x1d, 'r', 1}, R: []byte{0x00}},
	}}
	o := fastOpts()
	o.Poll = -1 // no background poll: the script is exact
	d, err := printer.New(pb, o)
	if err != nil {
		t.Fatal(err)
	}
	res, err := d.Print(context.Background(), printer.Job{ID: "1", Doc: (&printer.Doc{}).Add(printer.Text("Hi €"))})
	if err != nil || !res.Done || res.Printed != 1 {
		t.Errorf("print: %+v %v", res, err)
	}
	if st := d.Status(); !st.Ready() {
		t.Errorf("status %v, want ready", st)
	}
	d.Close()
	if err := pb.Close(); err != nil {
		t.Error(err)
	}
}
