package printer_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"tillbox/drivers/printer"
	"tillbox/drivers/printer/printertest"
)

func TestPaperOutMidJobResumesWithoutDuplicates(t *testing.T) {
	for _, tr := range transports {
		t.Run(tr.name, func(t *testing.T) {
			r := tr.open(t, nil, fastOpts())
			doc := longReceipt(40)
			want := expected(t, doc, &printer.DefaultProfile)
			r.fake.RunOutAfter(15)
			done := printAsync(r.dev, printer.Job{ID: "paper", Doc: doc})
			waitStatus(t, r.dev, func(s printer.Status) bool { return s.PaperOut && !s.Online })
			if n := len(r.fake.Printed()); n != 15 {
				t.Errorf("printed %d items before the paper ran out, want 15", n)
			}
			r.fake.Refill()
			got := <-done
			if got.err != nil {
				t.Fatalf("print: %v", got.err)
			}
			if len(got.res.InDoubt) != 0 {
				t.Errorf("paper out left chunks in doubt: %v", got.res.InDoubt)
			}
			checkOnce(t, r.fake.Printed(), want, got.res)
		})
	}
}

func TestCoverOpenMidJobWaitsAndResumes(t *testing.T) {
	for _, tr := range transports {
		t.Run(tr.name, func(t *testing.T) {
			// A slow line so that the job is still running when the cover opens.
			r := tr.open(t, &printertest.Options{Baud: 19200}, fastOpts())
			want, done := startLongJob(t, r.dev, r.fake, "cover", 40, 5)
			r.fake.SetCover(true)
			waitStatus(t, r.dev, func(s printer.Status) bool { return s.CoverOpen })
			r.fake.SetCover(false)
			got := <-done
			if got.err != nil {
				t.Fatalf("print: %v", got.err)
			}
			checkOnce(t, r.fake.Printed(), want, got.res)
		})
	}
}

func TestUnplugAndReplugResumesWithoutDuplicates(t *testing.T) {
	for _, tr := range transports {
		t.Run(tr.name, func(t *testing.T) {
			r := tr.open(t, &printertest.Options{Baud: 19200}, fastOpts())
			want, done := startLongJob(t, r.dev, r.fake, "cable", 40, 10)
			r.unplug()
			waitStatus(t, r.dev, func(s printer.Status) bool { return !s.Connected })
			r.replug()
			got := <-done
			if got.err != nil {
				t.Fatalf("print: %v", got.err)
			}
			if got.res.Resumes == 0 {
				t.Errorf("result %+v: want a resume", got.res)
			}
			checkOnce(t, r.fake.Printed(), want, got.res)
		})
	}
}

func TestPrinterVanishesAndReturns(t *testing.T) {
	for _, tr := range transports {
		t.Run(tr.name, func(t *testing.T) {
			r := tr.open(t, &printertest.Options{Baud: 19200}, fastOpts())
			want, done := startLongJob(t, r.dev, r.fake, "power", 40, 10)
			r.fake.Vanish()
			waitStatus(t, r.dev, func(s printer.Status) bool { return !s.Connected })
			r.fake.Return()
			got := <-done
			if got.err != nil {
				t.Fatalf("print: %v\n%s", got.err, r.fake.Transcript())
			}
			checkOnce(t, r.fake.Printed(), want, got.res)
		})
	}
}

func TestUnknownCharacterOnEachPage(t *testing.T) {
	tests := []struct {
		page    string
		text    string
		printed string
		missing []rune
	}{
		{"cp437", "Łódź 5 €", "Lódz 5 EUR", []rune{'Ł', 'ź', '€'}},
		{"cp852", "Cena 5 € ☃", "Cena 5 EUR ?", []rune{'€', '☃'}},
		{"cp857", "Zażółć ğ", "Zazólc ğ", []rune{'ż', 'ł', 'ć'}},
		{"cp858", "Straße ış", "Straße is", []rune{'ı', 'ş'}},
	}
	for _, tt := range tests {
		for _, tr := range transports {
			t.Run(tt.page+"/"+tr.name, func(t *testing.T) {
				o := fastOpts()
				o.Profile = printer.DefaultProfile
				o.Profile.CodePages = []string{tt.page}
				r := tr.open(t, nil, o)
				res, err := r.dev.Print(context.Background(), printer.Job{ID: "x", Doc: (&printer.Doc{}).Add(printer.Text(tt.text))})
				if err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(res.Missing, tt.missing) {
					t.Errorf("missing %q, want %q", res.Missing, tt.missing)
				}
				if got := textLines(r.fake.Printed()); !slices.Equal(got, []string{tt.printed}) {
					t.Errorf("printed %q, want %q", got, tt.printed)
				}
			})
		}
	}
}

func TestCompletedJobIsNotPrintedAgain(t *testing.T) {
	fake, d := newInProcess(t, nil, fastOpts())
	doc := referenceReceipt()
	first, err := d.Print(context.Background(), printer.Job{ID: "S042-T03-000123", Doc: doc})
	if err != nil {
		t.Fatal(err)
	}
	n := len(fake.Printed())
	again, err := d.Print(context.Background(), printer.Job{ID: "S042-T03-000123", Doc: referenceReceipt()})
	if err != nil {
		t.Fatal(err)
	}
	if len(fake.Printed()) != n || again.Printed != first.Printed || !again.Done {
		t.Errorf("repeat printed %d more items, result %+v, want none and %+v", len(fake.Printed())-n, again, first)
	}
	_, err = d.Print(context.Background(), printer.Job{ID: "S042-T03-000123", Doc: longReceipt(2)})
	if !errors.Is(err, printer.ErrJobMismatch) {
		t.Errorf("reused id with another document: err %v, want ErrJobMismatch", err)
	}
}

func TestReprintHasMarkAndNoKick(t *testing.T) {
	fake, d := newInProcess(t, nil, fastOpts())
	if _, err := d.Print(context.Background(), printer.Job{ID: "r1", Doc: referenceReceipt().Reprint("")}); err != nil {
		t.Fatal(err)
	}
	items := fake.Printed()
	if items[0].Text != printer.ReprintMark || !items[0].Bold {
		t.Errorf("first item %v, want the bold reprint mark", items[0])
	}
	for _, it := range items {
		if it.Kind == "kick" {
			t.Errorf("reprint kicked the drawer")
		}
	}
}

func TestHaltStopsAtChunkBoundaryAndJobResumes(t *testing.T) {
	fake, d := newInProcess(t, &printertest.Options{Baud: 19200}, fastOpts())
	want, done := startLongJob(t, d, fake, "halt", 40, 5)
	if err := d.Halt(); err != nil {
		t.Fatal(err)
	}
	got := <-done
	if !errors.Is(got.err, printer.ErrHalted) || got.res.Done {
		t.Fatalf("halted print: %+v %v, want ErrHalted and not done", got.res, got.err)
	}
	if n := len(fake.Printed()); n != got.res.Printed || n >= len(want) {
		t.Errorf("fake printed %d items, driver confirmed %d of %d", n, got.res.Printed, len(want))
	}
	res, err := d.Print(context.Background(), printer.Job{ID: "halt", Doc: longReceipt(40)})
	if err != nil {
		t.Fatal(err)
	}
	checkOnce(t, fake.Printed(), want, res)
}

func TestResumeAfterRestartFromJournaledProgress(t *testing.T) {
	fake, d := newInProcess(t, nil, fastOpts())
	doc := longReceipt(10)
	want := expected(t, doc, &printer.DefaultProfile)
	res, err := d.Print(context.Background(), printer.Job{ID: "j", Doc: doc, Printed: 4})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, it := range fake.Printed() {
		got = append(got, it.String())
	}
	if !slices.Equal(got, want[4:]) || res.Printed != len(want) {
		t.Errorf("printed %q (result %+v), want chunks 4.. %q", got, res, want[4:])
	}
}

func TestDrawerKickOpensAndSenseReportsIt(t *testing.T) {
	fake, d := newInProcess(t, nil, fastOpts())
	if _, err := d.Print(context.Background(), printer.Job{ID: "k", Doc: (&printer.Doc{}).Add(printer.Kick(5))}); err != nil {
		t.Fatal(err)
	}
	if it := fake.Printed(); len(it) != 1 || it[0].Kind != "kick" || it[0].Pin != 5 {
		t.Fatalf("printed %v, want one kick on pin 5", it)
	}
	waitStatus(t, d, func(s printer.Status) bool { return s.DrawerOpen })
	fake.SetDrawer(false)
	waitStatus(t, d, func(s printer.Status) bool { return !s.DrawerOpen })
}

func TestWriteOnlyPrinterPrints(t *testing.T) {
	o := fastOpts()
	o.Profile = printer.WriteOnlyProfile
	fake, d := newInProcess(t, &printertest.Options{NoRealTime: true, NoInOrder: true}, o)
	doc := (&printer.Doc{}).Add(printer.Text("Żółć €"), printer.Cut(false))
	res, err := d.Print(context.Background(), printer.Job{ID: "w", Doc: doc})
	if err != nil || !res.Done {
		t.Fatalf("print: %+v %v", res, err)
	}
	if !fake.WaitFor(testWait, func(it []printertest.Item) bool { return len(it) == 2 }) {
		t.Fatalf("printed %v", fake.Printed())
	}
	if got := textLines(fake.Printed()); !slices.Equal(got, []string{"Żółć €"}) {
		t.Errorf("printed %q", got)
	}
}

func TestInvalidDocumentsAreRejected(t *testing.T) {
	tests := []struct {
		name string
		item printer.Item
	}{
		{"bad EAN check digit", printer.EAN13("5901234123458")},
		{"EAN letters", printer.EAN13("59012341234ab")},
		{"Code128 control byte", printer.Code128("a\x1bb")},
		{"kick pin 3", printer.Kick(3)},
		{"empty QR", printer.QR("")},
		{"unknown kind", printer.Item{Kind: "sticker"}},
		{"unwired pin", printer.Kick(5)},
	}
	prof := printer.WriteOnlyProfile // drawer on pin 2 only
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := printer.Render((&printer.Doc{}).Add(tt.item), &prof)
			if !errors.Is(err, printer.ErrInvalidDoc) {
				t.Errorf("err %v, want ErrInvalidDoc", err)
			}
			if err != nil && !strings.HasPrefix(err.Error(), "printer: ") {
				t.Errorf("err %q does not start with the package", err)
			}
		})
	}
}
