package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"time"

	"tillbox/board"
	"tillbox/drivers/display"
	"tillbox/drivers/printer"
	"tillbox/firmware/config"
)

// selftestCmd is the technician's peripheral test: a test page with the version and every
// code page's letters, a display pattern, and a drawer kick that waits for the drawer to be
// pushed shut. Each step reports ok or what failed; the command fails if any step did.
func selftestCmd(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("selftest", flag.ContinueOnError)
	cfgPath := fs.String("config", "", "configuration file")
	boardName := fs.String("board", "", "board profile (overrides the config's)")
	drawerWait := fs.Duration("drawer-wait", 20*time.Second, "how long to wait for the drawer to be closed again")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg, err := config.Load(*cfgPath)
	if err != nil {
		return err
	}
	if *boardName != "" {
		cfg.Board = *boardName
	}
	prof, err := board.Lookup(cfg.Board)
	if err == nil {
		err = prof.Override(cfg.Devices)
	}
	if err != nil {
		return err
	}
	set, err := board.Open(prof, &board.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), DrawerLeftOpen: cfg.DrawerLeftOpen.Duration})
	if err != nil {
		return err
	}
	defer set.Close()
	failed := 0
	step := func(name string, err error) {
		if err != nil {
			failed++
			fmt.Fprintf(stdout, "%-8s FAIL  %v\n", name, err)
			return
		}
		fmt.Fprintf(stdout, "%-8s ok\n", name)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	step("printer", printTestPage(ctx, set, cfg))
	step("display", testDisplay(set))
	step("drawer", testDrawer(ctx, set, *drawerWait))
	for _, h := range set.Health() {
		fmt.Fprintf(stdout, "  %-8s %-16s %s %s\n", h.Name, h.State, h.Port, h.Detail)
	}
	if failed > 0 {
		return fmt.Errorf("selftest: %d of 3 steps failed", failed)
	}
	return nil
}

func printTestPage(ctx context.Context, set *board.Set, cfg *config.Config) error {
	if set.Printer == nil {
		return errors.New("no printer on this board")
	}
	d := &printer.Doc{}
	d.Add(printer.Text("TILLBOX SELF TEST").Bold().DoubleSize().Center(),
		printer.Text("version "+version).Center(),
		printer.Columns("board "+cfg.Board, "till "+cfg.Store+"/"+cfg.Till),
		printer.Text(time.Now().UTC().Format(time.RFC3339)),
		printer.Text("PL: ąćęłńóśźż ĄĆĘŁŃÓŚŹŻ"),
		printer.Text("TR: çğıöşü ÇĞİÖŞÜ"),
		printer.Text("DE: äöüß ÄÖÜ 12,50 €"),
		printer.Text("bold").Bold(), printer.Text("underline").Underline(),
		printer.EAN13("5901234123457"), printer.Code128("TILLBOX-"+version),
		printer.QR("tillbox "+version+" "+cfg.Store+"/"+cfg.Till),
		printer.Feed(2), printer.Cut(true))
	res, err := set.Printer.Print(ctx, printer.Job{ID: "selftest-" + time.Now().Format("150405.000"), Doc: d})
	if err != nil {
		return err
	}
	if !res.Done {
		return fmt.Errorf("test page not finished: %d of %d chunks", res.Printed, res.Chunks)
	}
	if len(res.Missing) > 0 {
		return fmt.Errorf("test page printed, but the printer's code pages lack %q", string(res.Missing))
	}
	return nil
}

func testDisplay(set *board.Set) error {
	if set.Display == nil {
		return errors.New("no customer display on this board")
	}
	for _, l := range []display.Layout{
		{Top: display.Line{Left: "TILLBOX SELF TEST"}, Bottom: display.Line{Left: version}},
		{Top: display.Line{Left: "Żółć Öl Şeker", Right: "1,00"}, Bottom: display.Line{Left: "12345678901234567890"}},
	} {
		if err := set.Display.Show(l); err != nil {
			return err
		}
		time.Sleep(300 * time.Millisecond)
	}
	return nil
}

func testDrawer(ctx context.Context, set *board.Set, wait time.Duration) error {
	if set.Drawer == nil {
		return errors.New("no drawer on this board")
	}
	if err := set.Drawer.Kick(); err != nil {
		return err
	}
	if set.Sim != nil && set.Sim.Drawer != nil {
		// On the sim board the test plays the technician who pushes the drawer shut.
		go func() {
			for i := 0; i < 500 && !set.Sim.Drawer.IsOpen(); i++ {
				time.Sleep(5 * time.Millisecond)
			}
			set.Sim.Drawer.Push()
		}()
	}
	wctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	if err := set.Drawer.WaitClosed(wctx); err != nil {
		return fmt.Errorf("kicked; %w (status: %s)", err, set.Drawer.Status())
	}
	if st := set.Drawer.Status(); st.Kicks == 0 {
		return errors.New("no kick was delivered")
	}
	return nil
}
