package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"tillbox/board"
	"tillbox/drivers/drawer"
	"tillbox/drivers/keypad"
	"tillbox/drivers/printer"
	"tillbox/drivers/scanner"
	"tillbox/firmware/config"
	"tillbox/firmware/receipt"
	"tillbox/firmware/reports"
	"tillbox/firmware/till"
	"tillbox/image/update"
	"tillbox/ledger"
	"tillbox/ledger/journal"
	"tillbox/uplink"
	"tillbox/uplink/identity"
	"tillbox/uplink/wire"
)

// Options configure Run.
type Options struct {
	Config  *config.Config
	Version string
	Logger  *slog.Logger // nil: discard
	// Script drives the sim board's fakes from a file or pipe: one command per line (see
	// script.go). Run returns when the script ends and the print queue is drained.
	Script io.Reader
	// Screen receives the simulator's screen; Input gives the terminal's keys. Both nil
	// for a headless till.
	Screen io.Writer
	Input  io.Reader
	// Layout is the box's slot layout file, as the stage-1 init wrote it, for the fleet's
	// update command. Default update.LayoutFile.
	Layout string
	// Events receives a JSON line for each thing the till did (display changes, commits,
	// prints, drawer moves, refusals): the record tests and technicians read.
	Events io.Writer
	// UpdateDecided tells the running till that the stage-1 init has just decided its try
	// (tillbox run maps SIGUSR1 onto it): the till journals the outcome at once from the
	// data directory's update.StatusFile, as it does at start. Nil: only at start.
	UpdateDecided <-chan struct{}
}

// App is a running till.
type App struct {
	cfg     *config.Config
	log     *slog.Logger
	led     *ledger.Ledger
	eng     *till.Engine
	set     *board.Set
	layout  receipt.Layout
	up      *uplink.Client     // nil: no uplink configured
	hq      *embeddedHQ        // nil: head office is elsewhere
	id      *identity.Identity // nil: not provisioned (tillbox provision)
	version string
	slots   string             // the slot layout file (updates)
	updates chan updateRequest // the fleet's update command, handed to the run loop

	evMu sync.Mutex
	evW  io.Writer

	printWake chan struct{}

	// Counted inputs, so that a script can wait until what it fed was handled.
	keysHandled  atomic.Int64
	scansHandled atomic.Int64
	drawerClosed atomic.Int64

	stMu         sync.Mutex // guards what the screen shows
	operator     [2]string
	customer     till.CustomerView
	drawerReason string
	scanning     bool   // the simulator's scan field is open
	scanText     string // what is typed in it
	online       atomic.Bool
	redraw       chan struct{}
}

// ledgerFile is where the ledger lives in the data directory.
func ledgerFile(data string) string { return filepath.Join(data, "till.ledger") }

// Run starts the till and runs it until ctx ends (or the script does).
func Run(ctx context.Context, o Options) (err error) {
	a, err := start(o)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := a.close(); err == nil {
			err = cerr
		}
	}()
	return a.loop(ctx, o)
}

func start(o Options) (*App, error) {
	cfg := o.Config
	if cfg == nil {
		cfg = config.Default()
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	a := &App{cfg: cfg, log: log, evW: o.Events, printWake: make(chan struct{}, 1), redraw: make(chan struct{}, 1), version: o.Version,
		slots: o.Layout, updates: make(chan updateRequest)}
	if a.slots == "" {
		a.slots = update.LayoutFile
	}
	if err := a.loadIdentity(); err != nil {
		return nil, err
	}
	led, err := ledger.Open(ledgerFile(cfg.Data), &ledger.Options{Store: cfg.Store, Till: cfg.Till, Sign: a.signer()})
	if err != nil {
		return nil, err
	}
	a.led = led
	if _, err := led.VerifyRecent(); err != nil {
		led.Close()
		return nil, fmt.Errorf("the ledger does not verify; run `tillbox ledger verify` and call a technician: %w", err)
	}
	if err := a.ledgerAtStart(); err != nil {
		led.Close()
		return nil, err
	}
	if _, err := led.Append(journal.Entry{Kind: journal.KindPowerUp, Reason: "tillbox " + o.Version + " on board " + cfg.Board}); err != nil {
		led.Close()
		return nil, err
	}
	cat, err := loadCatalog(cfg.Catalog, cfg.Store)
	if err != nil {
		led.Close()
		return nil, err
	}
	names := map[string]string{}
	for id, c := range cat.Cashiers {
		names[id] = c.Name
	}
	a.layout = receipt.Layout{Header: cfg.Receipt.Header, Footer: cfg.Receipt.Footer, Decimal: cfg.Decimal, Cashiers: names}
	a.eng = till.New(till.Config{Store: cfg.Store, Till: cfg.Till, ReceiptPrefix: led.Prefix(), Currency: cfg.Currency,
		DecimalSep: cfg.Decimal, NoSaleReasons: cfg.NoSaleReasons}, cat, ledgerJournal{led})
	if err := a.restore(); err != nil {
		a.log.Warn("restore", "err", err)
		a.emit("warning", map[string]any{"text": err.Error()})
	}

	prof, err := board.Lookup(cfg.Board)
	if err == nil {
		err = prof.Override(cfg.Devices)
	}
	if err != nil {
		led.Close()
		return nil, err
	}
	set, err := board.Open(prof, &board.Options{Logger: log, DrawerLeftOpen: cfg.DrawerLeftOpen.Duration})
	if err != nil {
		led.Close()
		return nil, err
	}
	a.set = set
	if err := a.startUplink(); err != nil {
		set.Close()
		led.Close()
		return nil, err
	}
	a.setOperator(a.eng.Prompt())
	return a, nil
}

// restore brings back the sale that was open at the last stop and the parked sales.
func (a *App) restore() error {
	open, err := a.led.Record(till.BucketTill, till.KeyOpenSale)
	if err != nil && !errors.Is(err, ledger.ErrNotFound) {
		return err
	}
	parked := map[string][]byte{}
	if err := a.led.Records(till.BucketParked, func(k string, v []byte) error {
		parked[k] = append([]byte(nil), v...)
		return nil
	}); err != nil {
		return err
	}
	if err := a.eng.Restore(open, parked); err != nil {
		return err
	}
	if a.eng.Sale() != nil {
		a.emit("restored", map[string]any{"lines": len(a.eng.Sale().Lines)})
	}
	return nil
}

func (a *App) close() error {
	if a.set != nil {
		a.keepSimRoll()
		a.set.Close()
	}
	a.hq.close()
	return a.led.Close()
}

// SimRollFile is where the sim board's printer leaves its paper roll when the till stops:
// what a person would tear off the printer, decoded to text, appended run after run.
const SimRollFile = "sim-receipts.txt"

func (a *App) keepSimRoll() {
	if a.set.Sim == nil || a.set.Sim.Printer == nil {
		return
	}
	f, err := os.OpenFile(filepath.Join(a.cfg.Data, SimRollFile), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		a.log.Warn("sim roll", "err", err)
		return
	}
	defer f.Close()
	f.WriteString(a.set.Sim.Printer.Text())
}

// ledgerJournal is what the sale engine may read of the ledger.
type ledgerJournal struct{ l *ledger.Ledger }

func (j ledgerJournal) ByReceipt(r string) (journal.Entry, error) { return j.l.ByReceipt(r) }

func (j ledgerJournal) Refunded(r string) (map[string]int64, error) {
	m := map[string]int64{}
	v, err := j.l.Record(till.BucketRefunded, r)
	if errors.Is(err, ledger.ErrNotFound) {
		return m, nil
	}
	if err != nil {
		return nil, err
	}
	return m, json.Unmarshal(v, &m)
}

func (a *App) loop(ctx context.Context, o Options) error {
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() {
		cancel()
		wg.Wait()
	}()
	wg.Add(3)
	go func() { defer wg.Done(); a.printLoop(ctx) }()
	go func() { defer wg.Done(); a.runUplink(ctx) }()
	go func() { defer wg.Done(); a.ledgerUpkeep(ctx) }()
	a.wakePrinter()
	sync := time.NewTicker(500 * time.Millisecond)
	defer sync.Stop()
	var upEvents <-chan wire.Event
	if a.up != nil {
		upEvents = a.up.Events()
	}

	scriptDone := make(chan error, 1)
	if o.Script != nil {
		go func() { scriptDone <- a.runScript(ctx, o.Script) }()
	}
	if o.Input != nil {
		wg.Add(1)
		go func() { defer wg.Done(); a.readTerminal(ctx, o.Input, cancel) }()
	}
	var screenTick <-chan time.Time
	if o.Screen != nil {
		t := time.NewTicker(250 * time.Millisecond)
		defer t.Stop()
		screenTick = t.C
		a.draw(o.Screen)
	}
	keys, scans, drawerEv, printerEv := a.deviceEvents()
	var reboot <-chan time.Time // set once an update is installed for its try
	a.reportUpdate()
	for {
		select {
		case <-ctx.Done():
			return nil
		case err := <-scriptDone:
			if err != nil {
				return err
			}
			return nil
		case ev := <-keys:
			if ev.Kind == keypad.EventPress {
				a.onKey(ev.Press)
			} else {
				a.emit("device", map[string]any{"device": "keypad", "state": ev.Status.State.String()})
			}
		case ev := <-scans:
			a.onScan(ev)
		case ev := <-drawerEv:
			a.onDrawer(ev)
		case ev := <-printerEv:
			a.onPrinter(ev)
		case <-sync.C:
			a.syncState()
		case req := <-a.updates:
			res, err := a.installUpdate(req.file)
			req.reply <- updateReply{res: res, err: err}
			if err == nil {
				reboot = time.After(rebootDelay)
			}
		case <-reboot:
			return ErrRebootForUpdate
		case <-o.UpdateDecided:
			a.reportUpdate()
		case ev := <-upEvents:
			a.emit("uplink-event", map[string]any{"kind": ev.Kind, "detail": ev.Detail})
			if ev.Severity != wire.SeverityInfo {
				a.setOperator([2]string{"! " + ev.Kind, ev.Detail})
			}
			a.syncState()
		case <-a.redraw:
			if o.Screen != nil {
				a.draw(o.Screen)
			}
		case <-screenTick:
			a.draw(o.Screen)
		}
	}
}

func (a *App) deviceEvents() (<-chan keypad.Event, <-chan scanner.Event, <-chan drawer.Event, <-chan printer.Event) {
	var k <-chan keypad.Event
	var s <-chan scanner.Event
	var d <-chan drawer.Event
	var p <-chan printer.Event
	if a.set.Keypad != nil {
		k = a.set.Keypad.Events()
	}
	if a.set.Scanner != nil {
		s = a.set.Scanner.Events()
	}
	if a.set.Drawer != nil {
		d = a.set.Drawer.Events()
	}
	if a.set.Printer != nil {
		p = a.set.Printer.Events()
	}
	return k, s, d, p
}

var keyOf = map[keypad.Key]till.Key{
	keypad.Key0: till.Key0, keypad.Key1: till.Key1, keypad.Key2: till.Key2, keypad.Key3: till.Key3,
	keypad.Key4: till.Key4, keypad.Key5: till.Key5, keypad.Key6: till.Key6, keypad.Key7: till.Key7,
	keypad.Key8: till.Key8, keypad.Key9: till.Key9, keypad.Key00: till.Key00, keypad.KeyDecimal: till.KeyPoint,
	keypad.KeyQty: till.KeyQty, keypad.KeyPLU: till.KeyPLU, keypad.KeyVoid: till.KeyVoid,
	keypad.KeySubtotal: till.KeySubtotal, keypad.KeyCash: till.KeyCash, keypad.KeyCard: till.KeyCard,
	keypad.KeyNoSale: till.KeyNoSale, keypad.KeyClear: till.KeyClear, keypad.KeyEnter: till.KeyEnter,
	keypad.KeyPark: till.KeyPark, keypad.KeyReturn: till.KeyReturn, keypad.KeySignOnOff: till.KeySignOn,
	keypad.KeySync: till.KeySync, keypad.KeyMenu: till.KeyMenu,
}

func (a *App) onKey(p keypad.Press) {
	defer a.keysHandled.Add(1)
	k, ok := keyOf[p.Key]
	if !ok {
		a.emit("key", map[string]any{"unmapped": p.Code})
		return
	}
	a.handle(a.eng.Key(k, time.Now()))
}

func (a *App) onScan(ev scanner.Event) {
	if ev.Kind != scanner.EventScan {
		a.emit("device", map[string]any{"device": "scanner", "state": ev.Status.State.String()})
		return
	}
	defer a.scansHandled.Add(1)
	s := ev.Scan
	if s.Reason != scanner.ReasonNone {
		a.setOperator([2]string{"! scan rejected: " + s.Reason.String(), ""})
		a.emit("scan-rejected", map[string]any{"reason": s.Reason.String()})
		return
	}
	in := till.Scan{Code: s.Code, Price: -1, Weight: -1}
	if _, ok := a.eng.Catalog().Barcodes[s.Code]; !ok && s.GTIN != "" {
		if _, ok := a.eng.Catalog().Barcodes[s.GTIN]; ok {
			in.Code = s.GTIN
		}
	}
	if s.InStore != nil {
		in.Item = s.InStore.Item
		switch s.InStore.Kind {
		case scanner.Price:
			in.Price = s.InStore.Value
		case scanner.Weight:
			in.Weight = s.InStore.Value
		}
	}
	a.handle(a.eng.ScanCode(in, time.Now()))
}

// handle carries out what the engine asked for, in the order the package doc gives.
func (a *App) handle(out till.Output) {
	if len(out.Save) > 0 {
		if err := a.led.Update(sides(out.Save)...); err != nil {
			a.log.Error("save open sale", "err", err)
			a.emit("warning", map[string]any{"text": "open sale not saved: " + err.Error()})
		}
	}
	if out.Refused != "" {
		a.emit("refused", map[string]any{"why": out.Refused})
	}
	if out.Sync {
		a.emit("sync", nil)
		a.syncNow()
	}
	a.show(out)
	if c := out.Commit; c != nil {
		a.commit(c)
	}
}

func (a *App) show(out till.Output) {
	if out.Operator != ([2]string{}) {
		a.setOperator(out.Operator)
	}
	if cv := out.Customer; cv != nil {
		a.stMu.Lock()
		a.customer = *cv
		a.stMu.Unlock()
		a.showCustomer(*cv)
		a.emit("customer", map[string]any{"left": cv.Left, "right": cv.Right})
	}
}

func (a *App) setOperator(l [2]string) {
	a.stMu.Lock()
	a.operator = l
	a.stMu.Unlock()
	a.emit("operator", map[string]any{"lines": l})
	select {
	case a.redraw <- struct{}{}:
	default:
	}
}

func sides(recs []till.Record) []ledger.Side {
	out := make([]ledger.Side, 0, len(recs))
	for _, r := range recs {
		if r.Value == nil {
			out = append(out, ledger.Delete(r.Bucket, r.Key))
		} else {
			out = append(out, ledger.Put(r.Bucket, r.Key, r.Value))
		}
	}
	return out
}

// printForm is the print job a document gets: it names the form, and the job's seq names
// the entry, so the receipt is always rendered from the committed entry.
var printForm = []byte(`{"form":"entry"}`)

// Z report figures are kept with the Z report's commit, so that the next report starts
// where it ended.
const keyLastZ = "last-z"

func (a *App) commit(c *till.Commit) {
	e := c.Entry
	a.syncState()
	e.Offline = !a.online.Load()
	var extra []ledger.Side
	if c.Report {
		f, err := a.reportFigures(e.Kind == journal.KindZReport)
		if err != nil {
			a.handle(a.eng.CommitFailed(err))
			return
		}
		e.Data = mergeJSON(e.Data, f)
		if e.Kind == journal.KindZReport {
			b, _ := json.Marshal(f)
			extra = append(extra, ledger.Put(till.BucketTill, keyLastZ, b))
		}
	}
	ss := sides(c.Records)
	for _, m := range c.Stock {
		ss = append(ss, ledger.StockDelta(m.Item, m.Qty))
	}
	ss = append(ss, extra...)
	if c.Print {
		ss = append(ss, ledger.PrintJob(printForm))
	}
	res, err := a.led.Append(e, ss...)
	if err != nil {
		a.log.Error("journal", "kind", e.Kind, "err", err)
		a.emit("commit-failed", map[string]any{"kind": e.Kind, "err": err.Error()})
		if e.Kind.Document() {
			a.handle(a.eng.CommitFailed(err))
		}
		return
	}
	a.notifyUplink()
	a.emit("commit", map[string]any{"seq": res.Entry.Seq, "kind": res.Entry.Kind, "receipt": res.Entry.Receipt, "offline": res.Entry.Offline})
	if !e.Kind.Document() {
		return
	}
	if len(res.Jobs) > 0 {
		a.wakePrinter()
	}
	if c.OpenDrawer != "" {
		a.kick(c.OpenDrawer + " " + res.Entry.Receipt)
	}
	a.handle(a.eng.Committed(res.Entry))
}

// reportFigures computes the X/Z figures since the last Z report.
func (a *App) reportFigures(z bool) (reports.Figures, error) {
	var last reports.Figures
	if b, err := a.led.Record(till.BucketTill, keyLastZ); err == nil {
		if err := json.Unmarshal(b, &last); err != nil {
			return last, fmt.Errorf("last Z report figures: %w", err)
		}
	} else if !errors.Is(err, ledger.ErrNotFound) {
		return last, err
	}
	var es []journal.Entry
	err := a.led.After(last.Period.ToSeq, 0, func(e *journal.Entry, _ []byte) bool {
		es = append(es, *e)
		return true
	})
	if err != nil {
		return last, err
	}
	f := reports.Compute(es, last)
	if z {
		f.ZNumber = last.ZNumber + 1
	} else {
		f.ZNumber = 0
	}
	return f, nil
}

func mergeJSON(base json.RawMessage, v any) json.RawMessage {
	m := map[string]any{}
	if len(base) > 0 {
		json.Unmarshal(base, &m)
	}
	b, _ := json.Marshal(v)
	json.Unmarshal(b, &m)
	out, _ := json.Marshal(m)
	return out
}

func (a *App) kick(reason string) {
	a.stMu.Lock()
	a.drawerReason = reason
	a.stMu.Unlock()
	if a.set.Drawer == nil {
		a.emit("drawer", map[string]any{"kick": reason, "err": "no drawer on this board"})
		return
	}
	if err := a.set.Drawer.Kick(); err != nil {
		a.log.Error("drawer kick", "err", err)
		a.emit("drawer", map[string]any{"kick": reason, "err": err.Error()})
		return
	}
	a.emit("drawer", map[string]any{"kick": reason})
}

// onDrawer journals every opening with its reason, and a drawer left open.
func (a *App) onDrawer(ev drawer.Event) {
	a.stMu.Lock()
	reason := a.drawerReason
	if ev.Kind == drawer.Opened {
		a.drawerReason = ""
	}
	a.stMu.Unlock()
	var note string
	switch ev.Kind {
	case drawer.Opened:
		note = "opened"
		if reason != "" {
			note += ": " + reason
		} else {
			note += " without a kick"
		}
	case drawer.Closed:
		note = "closed"
		defer a.drawerClosed.Add(1)
	case drawer.LeftOpen:
		note = "left open"
	case drawer.Jammed:
		note = "jammed: kicked but did not open"
	default:
		a.emit("drawer", map[string]any{"event": ev.Kind.String()})
		return
	}
	a.emit("drawer", map[string]any{"event": ev.Kind.String(), "note": note})
	if _, err := a.led.Append(journal.Entry{Kind: journal.KindDrawer, Reason: note, Cashier: a.cashierID(), Offline: !a.online.Load()}); err != nil {
		a.log.Error("journal drawer", "err", err)
	}
	a.notifyUplink()
	if ev.Kind == drawer.LeftOpen || ev.Kind == drawer.Jammed {
		a.setOperator([2]string{"! drawer " + note, ""})
		a.alert(wire.EventDrawerLeftOpen, wire.SeverityWarning, note)
	}
}

func (a *App) cashierID() string {
	if c := a.eng.Cashier(); c != nil {
		return c.ID
	}
	return ""
}

func (a *App) onPrinter(ev printer.Event) {
	st := ev.Status
	a.emit("printer", map[string]any{"connected": st.Connected, "paper_out": st.PaperOut, "paper_near_end": st.PaperNearEnd, "cover_open": st.CoverOpen})
	switch {
	case !st.Connected:
		a.setOperator([2]string{"! printer not answering", "receipts wait in the queue"})
	case st.PaperOut:
		a.setOperator([2]string{"! printer: paper out", "load paper: printing resumes"})
		a.alert(wire.EventPaperOut, wire.SeverityWarning, "receipt printer")
	case st.CoverOpen:
		a.setOperator([2]string{"! printer: cover open", ""})
	}
	a.wakePrinter()
}

func (a *App) wakePrinter() {
	select {
	case a.printWake <- struct{}{}:
	default:
	}
}

// printLoop prints the ledger's print queue, oldest first. A job is marked started in the
// ledger before its first byte goes out, so after a crash it prints again with a reprint
// mark; it is removed from the queue only when the printer confirmed all of it.
func (a *App) printLoop(ctx context.Context) {
	started := map[uint64]bool{}
	for {
		jobs, err := a.led.Jobs()
		if err != nil {
			a.log.Error("print queue", "err", err)
		}
		failed := false
		for _, j := range jobs {
			if ctx.Err() != nil {
				return
			}
			if err := a.printJob(ctx, j, started); err != nil {
				a.log.Warn("print", "job", j.ID, "err", err)
				failed = true
				break
			}
		}
		var retry <-chan time.Time
		if failed {
			retry = time.After(time.Second)
		} else if len(jobs) > 0 {
			continue
		}
		select {
		case <-ctx.Done():
			return
		case <-a.printWake:
		case <-retry:
		}
	}
}

func (a *App) printJob(ctx context.Context, j ledger.Job, started map[uint64]bool) error {
	if a.set.Printer == nil {
		return errors.New("no printer on this board")
	}
	e, err := a.led.Get(j.Seq)
	if err != nil {
		return err
	}
	doc := a.layout.Render(e)
	reprint := j.Attempts > 0 && !started[j.ID]
	if reprint {
		doc = doc.Reprint("")
	}
	if !started[j.ID] {
		if err := a.led.Update(ledger.JobStarted(j.ID)); err != nil {
			return err
		}
		started[j.ID] = true
	}
	res, err := a.set.Printer.Print(ctx, printer.Job{ID: "job-" + strconv.FormatUint(j.ID, 10) + "-" + strconv.Itoa(j.Attempts), Doc: doc})
	if err != nil {
		return err
	}
	if !res.Done {
		return fmt.Errorf("job %d not done", j.ID)
	}
	if err := a.led.Update(ledger.JobDone(j.ID)); err != nil {
		return err
	}
	a.emit("printed", map[string]any{"job": j.ID, "seq": j.Seq, "receipt": e.Receipt, "reprint": reprint, "in_doubt": len(res.InDoubt)})
	return nil
}

// emit writes one event line.
func (a *App) emit(kind string, fields map[string]any) {
	if a.evW == nil {
		return
	}
	m := map[string]any{"t": kind}
	for k, v := range fields {
		m[k] = v
	}
	b, err := json.Marshal(m)
	if err != nil {
		return
	}
	a.evMu.Lock()
	a.evW.Write(append(b, '\n'))
	a.evMu.Unlock()
}
