package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"tillbox/board"
	"tillbox/drivers/display"
	"tillbox/drivers/drawer"
	"tillbox/drivers/printer"
	"tillbox/firmware/app"
	"tillbox/firmware/config"
	"tillbox/firmware/techpage"
	"tillbox/ledger"
)

// techpageLogLines is how many of the last log lines the page shows.
const techpageLogLines = 200

// techpageCmd is `tillbox techpage token [--new] [--url]`: the box's technician token, made
// on first use, for a technician at the box's console.
func techpageCmd(args []string, stdout io.Writer) error {
	if len(args) == 0 || args[0] != "token" {
		return fmt.Errorf("%w: techpage needs token", errUsage)
	}
	fs := flag.NewFlagSet("techpage token", flag.ContinueOnError)
	cfgPath := fs.String("config", "", "configuration file")
	data := fs.String("data", "", "data directory (overrides the config's)")
	renew := fs.Bool("new", false, "replace the token with a new one (signs every browser off)")
	asURL := fs.Bool("url", false, "print the page's address with the token, to open in a browser")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	cfg, err := config.Load(*cfgPath)
	if err != nil {
		return err
	}
	if *data != "" {
		cfg.Data = *data
	}
	load := techpage.LoadToken
	if *renew {
		load = techpage.NewToken
	}
	tok, err := load(cfg.Data)
	if err != nil {
		return err
	}
	if *asURL {
		if cfg.Technician.Listen == config.TechnicianOff {
			return errors.New("techpage: the page is off (technician.listen is \"off\")")
		}
		fmt.Fprintf(stdout, "http://%s/?token=%s\n", cfg.Technician.Listen, tok)
		return nil
	}
	fmt.Fprintln(stdout, tok)
	return nil
}

// startTechpage prepares the technician page for `tillbox run`: it keeps the log's last
// lines, taps the events stream, binds the listen address (beside the till's start) and
// sets o.Technician, which serves the page once the devices are open, and
// o.TechnicianPage, which gives the operator display the address and the token (read at
// each call). A page that cannot start (a taken port, a damaged token file) is logged and
// reported as an event, the operator display says why at MENU 15, and the till runs
// without it. The events stream gets a "techpage" line with the address; in scripted mode
// it carries the token too, as the operator display shows it to a supervisor. release
// releases the address.
func startTechpage(cfg *config.Config, o *app.Options) (release func()) {
	if cfg.Technician.Listen == config.TechnicianOff {
		return func() {}
	}
	ring := techpage.NewLogRing(techpageLogLines)
	o.Logger = slog.New(ring.Handler(o.Logger.Handler()))
	events := o.Events
	event := func(fields map[string]any) {
		if events == nil {
			return
		}
		fields["t"] = "techpage"
		b, _ := json.Marshal(fields)
		events.Write(append(b, '\n'))
	}
	// The token and the listening socket are made beside the till's start (they are the
	// first use of the net package and of the token file, a tenth of a second and more
	// under emulation): the page is served only after the first operator prompt, and the
	// operator display asks for its address only at a supervisor's MENU 15.
	var (
		bound = make(chan struct{})
		ln    net.Listener
		addr  string
		err   error
	)
	log, scripted := o.Logger, o.Script != nil
	go func() {
		defer close(bound)
		ln, addr, err = bindTechpage(cfg, scripted, event)
		if err != nil {
			log.Warn("technician page not served", "err", err)
			event(map[string]any{"err": err.Error()})
			return
		}
		log.Info("technician page", "url", "http://"+addr+"/", "remote", cfg.Technician.AllowRemote)
	}()
	o.TechnicianPage = func() (string, string, error) {
		<-bound
		if err != nil {
			return "", "", fmt.Errorf("not served: %w", err)
		}
		tok, err := techpage.LoadToken(cfg.Data)
		return addr, techpage.FormatToken(tok), err
	}
	tap := techpage.NewEventTap(o.Events)
	o.Events = tap
	uplinkAt := cfg.Uplink.Broker
	if cfg.Uplink.Embedded {
		uplinkAt = "the embedded head office"
	} else if o.Broker != "" {
		uplinkAt = o.Broker
	}
	o.Technician = func(set *board.Set, kick func(string)) func() {
		<-bound
		if err != nil {
			return func() {}
		}
		page := techpage.New(techpage.Options{
			TokenFrom:   func() (string, error) { return techpage.LoadToken(cfg.Data) },
			AllowRemote: cfg.Technician.AllowRemote,
			Version:     version, Board: cfg.Board, Store: cfg.Store, Till: cfg.Till,
			Data: cfg.Data, Layout: o.Layout, Uplink: uplinkAt,
			Devices: set.Health,
			Ledger: func() (ledger.Stats, error) {
				rep, err := app.AskRunning(cfg.Data, app.RequestStats)
				if err != nil {
					return ledger.Stats{}, err
				}
				return *rep.Stats, nil
			},
			Tests: []techpage.Test{
				{Name: "print", Label: "Test print", Run: func(ctx context.Context) (string, error) {
					log.Info("technician page: test print")
					return "test page printed", pageTestPrint(ctx, set, cfg)
				}},
				{Name: "drawer", Label: "Open the drawer", Run: func(ctx context.Context) (string, error) {
					log.Info("technician page: drawer test")
					return pageTestDrawer(ctx, set, kick)
				}},
				{Name: "display", Label: "Display test", Run: func(ctx context.Context) (string, error) {
					log.Info("technician page: display test")
					return pageTestDisplay(set)
				}},
			},
			Logs: ring, Events: tap,
		})
		srv := &http.Server{Handler: page, ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
		done := make(chan struct{})
		go func() {
			defer func() { done <- struct{}{} }()
			if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
				log.Warn("technician page", "err", err)
			}
		}()
		return func() {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			srv.Shutdown(ctx)
			<-done
		}
	}
	return func() {
		<-bound
		if ln != nil {
			ln.Close()
		}
	}
}

// bindTechpage makes the page's token (on first use) and its listening socket, and
// writes the "techpage" event with the address (and the token, for a scripted till).
func bindTechpage(cfg *config.Config, scripted bool, event func(map[string]any)) (net.Listener, string, error) {
	if err := os.MkdirAll(cfg.Data, 0o700); err != nil {
		return nil, "", err
	}
	tok, err := techpage.LoadToken(cfg.Data)
	if err != nil {
		return nil, "", err
	}
	ln, err := net.Listen("tcp", cfg.Technician.Listen)
	if err != nil {
		return nil, "", fmt.Errorf("techpage: %w", err)
	}
	addr := ln.Addr().String()
	ev := map[string]any{"listen": addr}
	if scripted {
		ev["token"] = tok
	}
	event(ev)
	return ln, addr, nil
}

// pageTestPrint prints the self test's page, waiting while the printer is busy with a
// receipt.
func pageTestPrint(ctx context.Context, set *board.Set, cfg *config.Config) error {
	for {
		err := printTestPage(ctx, set, cfg)
		if !errors.Is(err, printer.ErrBusy) {
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("the printer stayed busy: %w", err)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// pageTestDrawer kicks the drawer as the till does (the opening is journaled as the
// technician's) and reports whether it opened. On the sim board it then pushes the drawer
// shut, as the technician would.
func pageTestDrawer(ctx context.Context, set *board.Set, kick func(string)) (string, error) {
	if set.Drawer == nil {
		return "", errors.New("no drawer on this board")
	}
	before := set.Drawer.Status().Kicks
	kick("technician page test")
	if set.Drawer.Status().Kicks == before {
		return "", errors.New("no kick was delivered (see the log)")
	}
	if !set.Drawer.Status().Sensed {
		return "kicked (this drawer has no sense switch)", nil
	}
	wctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	for set.Drawer.Status().State != drawer.StateOpen {
		select {
		case <-wctx.Done():
			return "", fmt.Errorf("kicked, but it did not open within 3s (%s)", set.Drawer.Status())
		case <-time.After(10 * time.Millisecond):
		}
	}
	if set.Sim != nil && set.Sim.Drawer != nil {
		set.Sim.Drawer.Push()
		return "kicked, opened, and pushed shut (sim)", nil
	}
	return "kicked and opened: push it shut", nil
}

// pageTestDisplay shows the self test's patterns, then what the till showed before.
func pageTestDisplay(set *board.Set) (string, error) {
	if set.Display == nil {
		return "", errors.New("no customer display on this board")
	}
	prev := set.Display.Status().Shown
	if err := testDisplay(set); err != nil {
		return "", err
	}
	time.Sleep(300 * time.Millisecond)
	if prev == (display.Layout{}) {
		return "test patterns shown, display cleared", set.Display.Clear()
	}
	return "test patterns shown, the till's layout back", set.Display.Show(prev)
}
