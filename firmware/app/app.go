package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strconv"
	"strings"
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
	"tillbox/firmware/starttrace"
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
	// Broker, when set, is the broker the uplink connects to instead of the configured
	// one: `tillbox run` gives its embedded head office's address here.
	Broker string
	Logger *slog.Logger // nil: discard
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
	// Slot is the A/B slot this boot runs from ("A", "B"; "" off an A/B image), as the
	// layout names it: the status tells head office's inventory.
	Slot string
	// Events receives a JSON line for each thing the till did (display changes, commits,
	// prints, drawer moves, refusals): the record tests and technicians read.
	Events io.Writer
	// ScriptOut receives the script's acknowledgements: a line per command, "ok N CMD" once
	// it was done or "error N CMD: why" when it failed (the script then stops). Nil: none.
	ScriptOut io.Writer
	// AfterCommit, when set, is called after each document is committed and before it is
	// printed, the drawer opens or the display changes: fault tests kill the process there.
	AfterCommit func(journal.Entry)
	// UpdateDecided tells the running till that the stage-1 init has just decided its try
	// (tillbox run maps SIGUSR1 onto it): the till journals the outcome at once from the
	// data directory's update.StatusFile, as it does at start. Nil: only at start.
	UpdateDecided <-chan struct{}
	// Technician, when set, is called once the devices are open and the control socket
	// answers; the stop it returns is called before the devices close. kick opens the drawer
	// as the till does, with reason as the journaled cause of the opening.
	Technician func(set *board.Set, kick func(reason string)) (stop func())
	// TechnicianPage gives the technician page's address and its token as the operator
	// display shows it (MENU 15, a supervisor's). Nil: the box serves no page.
	TechnicianPage func() (addr, token string, err error)
}

// App is a running till: the loop that feeds device input to the sale engine and carries
// out what the engine asks for. Printing, the simulator's screen and the control socket are
// their own types.
type App struct {
	cfg     *config.Config
	log     *slog.Logger
	led     *ledger.Ledger
	eng     *till.Engine
	set     *board.Set
	prints  *printQueue
	screen  *screenState
	up      *uplink.Client     // nil: no uplink configured
	upOpts  *uplink.Options    // the uplink's options, for certificate renewals
	id      *identity.Identity // nil: not provisioned (tillbox provision)
	version string
	slot    string             // the A/B slot this boot runs from, "" when not known
	slots   string             // the slot layout file (updates)
	updates chan updateRequest // the fleet's update command, handed to the run loop
	fleet   *fleetUpdater      // the desired firmware from HQ; nil without an uplink

	afterCommit func(journal.Entry)

	evMu sync.Mutex
	evW  io.Writer

	// Counted inputs, so that a script can wait until what it fed was handled.
	keysHandled  atomic.Int64
	scansHandled atomic.Int64
	drawerClosed atomic.Int64

	drawerMu     sync.Mutex
	drawerReason string // why the drawer was last kicked, until it opens

	online atomic.Bool
	loc    *time.Location // local time of receipts and screens

	unsynced unsyncedCount // receipts not at HQ yet, for the screen

	syncing        bool  // the SYNC key started a sync that has not completed yet
	refusedCatalog int64 // the version of a catalog refused (another currency)
}

// operatorWidth is the operator display's line length; longer prompts are paged.
const operatorWidth = 40

// now is the time in the configured zone: what the displays and receipts show. The ledger
// stores every entry's time in UTC.
func (a *App) now() time.Time { return time.Now().In(a.loc) }

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
	a := &App{cfg: cfg, log: log, evW: o.Events, screen: newScreenState(), version: o.Version,
		slot: o.Slot, slots: o.Layout, updates: make(chan updateRequest), afterCommit: o.AfterCommit}
	if a.slots == "" {
		a.slots = update.LayoutFile
	}
	// The devices open and the catalog loads while the ledger opens and verifies: neither
	// needs the other, and on a slow board each is a good part of the start. The devices
	// are only opened here (no key is read, nothing printed) until the run loop starts.
	early := openEarly(cfg, log)
	fail := func(err error) (*App, error) {
		if a.led != nil {
			a.led.Close()
		}
		early.close()
		return nil, err
	}
	if err := a.loadIdentity(); err != nil {
		return fail(err)
	}
	starttrace.Mark("identity loaded")
	led, err := ledger.Open(ledgerFile(cfg.Data), &ledger.Options{Store: cfg.Store, Till: cfg.Till, Sign: a.signer()})
	if err != nil {
		return fail(err)
	}
	a.led = led
	starttrace.Mark("ledger opened")
	if _, err := led.VerifyRecent(); err != nil {
		return fail(fmt.Errorf("the ledger does not verify; run `tillbox ledger verify` and call a technician: %w", err))
	}
	starttrace.Mark("ledger's recent entries verified")
	if err := a.ledgerAtStart(); err != nil {
		return fail(err)
	}
	starttrace.Mark("ledger's start checks")
	if _, err := led.Append(journal.Entry{Kind: journal.KindPowerUp, Reason: "tillbox " + o.Version + " on board " + cfg.Board}); err != nil {
		return fail(err)
	}
	starttrace.Mark("power-up journaled")
	cat, err := early.catalog()
	if err != nil {
		return fail(err)
	}
	starttrace.Mark("catalog loaded")
	a.loc = cfg.Location()
	a.eng = till.New(till.Config{Store: cfg.Store, Till: cfg.Till, ReceiptPrefix: led.Prefix(), Currency: cfg.Currency,
		DecimalSep: cfg.Decimal, NoSaleReasons: cfg.NoSaleReasons, PromptWidth: operatorWidth,
		DiscountLimit: int64(cfg.DiscountLimit * 100), DiscountReasons: cfg.DiscountReasons,
		CashInReasons: cfg.CashInReasons, CashOutReasons: cfg.CashOutReasons, CashRounding: cfg.CashRounding,
		Location: a.loc, Warehouse: cfg.Warehouse, Warehouses: cfg.Warehouses, TransferReasons: cfg.TransferReasons,
		ReleaseReasons: cfg.ReleaseReasons, TechnicianPage: o.TechnicianPage}, cat, ledgerJournal{l: led, a: a})
	starttrace.Mark("sale engine made")
	// The uplink is made (not run) before anything is restored, so that the catalog head
	// office sent last is in force from the first key: a cashier HQ removed cannot sign on.
	if err := a.startUplink(o); err != nil {
		return fail(err)
	}
	starttrace.Mark("uplink made")
	a.syncState()
	if err := a.restore(); err != nil {
		a.log.Warn("restore", "err", err)
		a.emit("warning", map[string]any{"text": err.Error()})
	}
	starttrace.Mark("open and parked sales restored")
	names := map[string]string{}
	for id, c := range a.eng.Catalog().Cashiers {
		names[id] = c.Name
	}
	layout := receipt.Layout{Header: cfg.Receipt.Header, Footer: cfg.Receipt.Footer, Decimal: cfg.Decimal, Cashiers: names, Location: a.loc}

	set, err := early.devices()
	if err != nil {
		return fail(err)
	}
	a.set = set
	starttrace.Mark("devices opened")
	a.prints = newPrintQueue(led, set.Printer, layout, log, a.emit)
	a.setOperator(a.eng.Prompt())
	starttrace.Mark("READY (first operator prompt)")
	return a, nil
}

// earlyStart is what start opens beside the ledger: the board's devices and the catalog,
// each on its own goroutine.
type earlyStart struct {
	set    chan openedDevices
	cat    chan loadedCatalog
	gotSet *openedDevices // once devices was called
}

type openedDevices struct {
	set *board.Set
	err error
}

type loadedCatalog struct {
	cat *till.Catalog
	err error
}

func openEarly(cfg *config.Config, log *slog.Logger) *earlyStart {
	e := &earlyStart{set: make(chan openedDevices, 1), cat: make(chan loadedCatalog, 1)}
	go func() {
		done := starttrace.Span("devices")
		defer done()
		prof, err := board.Lookup(cfg.Board)
		if err == nil {
			err = prof.Override(cfg.Devices)
		}
		if err != nil {
			e.set <- openedDevices{err: err}
			return
		}
		set, err := board.Open(prof, &board.Options{Logger: log, DrawerLeftOpen: cfg.DrawerLeftOpen.Duration})
		e.set <- openedDevices{set, err}
	}()
	go func() {
		done := starttrace.Span("catalog")
		defer done()
		cat, err := loadCatalog(cfg.Catalog, cfg.Store, cfg.Currency)
		e.cat <- loadedCatalog{cat, err}
	}()
	return e
}

// devices waits for the board's devices to be open.
func (e *earlyStart) devices() (*board.Set, error) {
	if e.gotSet == nil {
		d := <-e.set
		e.gotSet = &d
	}
	return e.gotSet.set, e.gotSet.err
}

// catalog waits for the catalog.
func (e *earlyStart) catalog() (*till.Catalog, error) {
	c := <-e.cat
	e.cat <- c
	return c.cat, c.err
}

// close closes the devices of a start that failed, once they are open.
func (e *earlyStart) close() {
	if set, err := e.devices(); err == nil && set != nil {
		set.Close()
	}
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
	locks := map[string][]byte{}
	if err := a.led.Records(till.BucketLockout, func(k string, v []byte) error {
		locks[k] = append([]byte(nil), v...)
		return nil
	}); err != nil {
		return err
	}
	if err := a.eng.RestoreLockouts(locks); err != nil {
		return err
	}
	shift, err := a.led.Record(till.BucketTill, till.KeyShift)
	if err != nil && !errors.Is(err, ledger.ErrNotFound) {
		return err
	}
	if err := a.eng.RestoreShift(shift); err != nil {
		return err
	}
	if a.eng.Sale() != nil {
		a.emit("restored", map[string]any{"lines": len(a.eng.Sale().Lines)})
	}
	return nil
}

func (a *App) close() error {
	if a.set != nil {
		a.set.Close()
	}
	return a.led.Close()
}

// ledgerJournal is what the sale engine may read of the ledger (and of the uplink, for the
// sync status).
type ledgerJournal struct {
	l *ledger.Ledger
	a *App
}

func (j ledgerJournal) ByReceipt(r string) (journal.Entry, error) { return j.l.ByReceipt(r) }

func (j ledgerJournal) Documents(n int) ([]journal.Entry, error) { return recentDocuments(j.l, n) }

func (j ledgerJournal) Copies(r string) (int, error) {
	v, err := j.l.Record(till.BucketCopies, r)
	if errors.Is(err, ledger.ErrNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(string(v))
}

func (j ledgerJournal) Stock(item string) (int64, error) { return j.l.Stock(item) }

// SyncStatus: at or below HQ's watermark an entry is stored there; above it, it is sent
// while the uplink is online and only on this till otherwise.
func (j ledgerJournal) SyncStatus(seq uint64) string {
	if wm, err := j.l.Watermark(); err == nil && seq <= wm {
		return till.SyncStored
	}
	if j.a.online.Load() {
		return till.SyncSent
	}
	return till.SyncUnsynced
}

// recentDocuments gives up to n documents, newest first, reading back from the last seq.
func recentDocuments(l *ledger.Ledger, n int) ([]journal.Entry, error) {
	last, err := l.LastSeq()
	if err != nil {
		return nil, err
	}
	var out []journal.Entry
	const chunk = 200
	for top := last; top > 0 && len(out) < n; {
		from := uint64(0)
		if top > chunk {
			from = top - chunk
		}
		var batch []journal.Entry
		err := l.After(from, int(top-from), func(e *journal.Entry, _ []byte) bool {
			if e.Receipt != "" {
				batch = append(batch, *e)
			}
			return true
		})
		if err != nil {
			return nil, err
		}
		for i := len(batch) - 1; i >= 0 && len(out) < n; i-- {
			out = append(out, batch[i])
		}
		top = from
	}
	return out, nil
}

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
	wg.Add(4)
	go func() { defer wg.Done(); a.prints.Run(ctx) }()
	go func() { defer wg.Done(); a.runUplink(ctx) }()
	go func() { defer wg.Done(); a.runRenewals(ctx) }()
	go func() { defer wg.Done(); a.ledgerUpkeep(ctx) }()
	if a.fleet != nil {
		wg.Add(1)
		go func() { defer wg.Done(); a.fleet.run(ctx) }()
	}
	if sim := a.set.Sim; sim != nil && sim.Printer != nil {
		roll := &simRoll{prn: sim.Printer, path: filepath.Join(a.cfg.Data, SimRollFile), log: a.log}
		wg.Add(1)
		go func() { defer wg.Done(); roll.Run(ctx) }()
	}
	if stop, err := a.serveControl(); err != nil {
		a.log.Warn("control socket", "err", err)
	} else {
		defer stop()
	}
	if o.Technician != nil {
		defer o.Technician(a.set, a.kick)()
	}
	a.prints.Wake()
	sync := time.NewTicker(500 * time.Millisecond)
	defer sync.Stop()
	var upEvents <-chan wire.Event
	if a.up != nil {
		upEvents = a.up.Events()
	}

	scriptDone := make(chan error, 1)
	if o.Script != nil {
		go func() { scriptDone <- a.runScript(ctx, o.Script, o.ScriptOut) }()
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
			res, err := a.handleUpdate(req)
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
		case <-a.screen.Changed():
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
	a.handle(a.eng.Key(k, a.now()))
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
	in := till.Scan{Code: s.Code, GTIN: s.GTIN, Price: -1, Weight: -1}
	if s.InStore != nil {
		in.Item = s.InStore.Item
		switch s.InStore.Kind {
		case scanner.Price:
			in.Price = s.InStore.Value
		case scanner.Weight:
			in.Weight = s.InStore.Value
		}
	}
	a.handle(a.eng.ScanCode(in, a.now()))
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
	a.show(out)
	if out.Sync {
		a.emit("sync", nil)
		a.syncNow()
	}
	if out.Export {
		a.exportUSB()
	}
	if c := out.Commit; c != nil {
		a.commit(c)
	}
}

func (a *App) show(out till.Output) {
	if out.Operator != ([2]string{}) {
		a.setOperator(out.Operator)
	}
	if cv := out.Customer; cv != nil {
		a.screen.SetCustomer(*cv)
		a.showCustomer(*cv)
		a.emit("customer", map[string]any{"left": cv.Left, "right": cv.Right})
	}
}

// setOperator shows two lines on the operator display. A first line longer than the
// display goes on in the second (which then holds what it held after it); the engine's own
// prompts are paged already.
func (a *App) setOperator(l [2]string) {
	l = fitOperator(l, operatorWidth)
	a.screen.SetOperator(l)
	a.emit("operator", map[string]any{"lines": l})
}

func fitOperator(l [2]string, width int) [2]string {
	r := []rune(l[0])
	if len(r) <= width {
		return l
	}
	cut := width
	for i := width; i > width/2; i-- {
		if r[i] == ' ' {
			cut = i
			break
		}
	}
	rest := strings.TrimSpace(string(r[cut:]))
	if l[1] != "" {
		rest += " - " + l[1]
	}
	return [2]string{string(r[:cut]), rest}
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

func (a *App) kick(reason string) {
	a.drawerMu.Lock()
	a.drawerReason = reason
	a.drawerMu.Unlock()
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
	a.drawerMu.Lock()
	reason := a.drawerReason
	if ev.Kind == drawer.Opened {
		a.drawerReason = ""
	}
	a.drawerMu.Unlock()
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
	a.prints.Wake()
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
