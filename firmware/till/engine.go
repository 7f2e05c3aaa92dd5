package till

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"tillbox/ledger/journal"
)

// Key is a POS key as the engine sees it. The firmware maps the keypad's keys onto these.
type Key int

const (
	KeyNone Key = iota
	Key0
	Key1
	Key2
	Key3
	Key4
	Key5
	Key6
	Key7
	Key8
	Key9
	Key00
	KeyPoint
	KeyQty
	KeyPLU
	KeyVoid
	KeySubtotal
	KeyCash
	KeyCard
	KeyNoSale
	KeyClear
	KeyEnter
	KeyPark
	KeyReturn
	KeySignOn // SIGN ON/OFF: one key that signs on when nobody is, off otherwise
	KeyMenu   // functions: reports, cash in/out, documents, void sale
	KeySync   // manual "sync now"; the engine only reports it, the uplink does it
)

var keyNames = map[Key]string{
	Key0: "0", Key1: "1", Key2: "2", Key3: "3", Key4: "4", Key5: "5", Key6: "6", Key7: "7", Key8: "8", Key9: "9",
	Key00: "00", KeyPoint: ".", KeyQty: "QTY", KeyPLU: "PLU", KeyVoid: "VOID", KeySubtotal: "SUBTOTAL",
	KeyCash: "CASH", KeyCard: "CARD", KeyNoSale: "NO SALE", KeyClear: "CLEAR", KeyEnter: "ENTER",
	KeyPark: "PARK", KeyReturn: "RETURN", KeySignOn: "SIGN ON/OFF", KeyMenu: "MENU", KeySync: "SYNC",
}

func (k Key) String() string {
	if s, ok := keyNames[k]; ok {
		return s
	}
	return "key(" + strconv.Itoa(int(k)) + ")"
}

// KeyByName finds a key by the name String gives it (case-insensitive).
func KeyByName(name string) (Key, bool) {
	for k, n := range keyNames {
		if strings.EqualFold(n, name) {
			return k, true
		}
	}
	return KeyNone, false
}

// Scan is a barcode read, already validated by the scanner driver.
type Scan struct {
	Code   string // the code as read
	GTIN   string // the code as a 13-digit GTIN (UPC-A, UPC-E and EAN-8 padded), "" when it is none
	Item   string // for in-store codes with an embedded value: the item code inside it
	Price  int64  // embedded price in minor units, or -1
	Weight int64  // embedded weight in grams, or -1
}

// Journal is what the engine may read of the ledger: receipts for refunds.
type Journal interface {
	ByReceipt(receipt string) (journal.Entry, error)
	// Refunded gives the quantities (thousandths, positive) already refunded per item code
	// against receipt.
	Refunded(receipt string) (map[string]int64, error)
}

// Config is the till's setup.
type Config struct {
	Store, Till     string
	ReceiptPrefix   string        // e.g. "S042-T03": a typed receipt number n means PREFIX-n
	Currency        string        // ISO code, e.g. "PLN"
	DecimalSep      string        // "," or "."
	MaxPINFailures  int           // before a lockout; default 3
	Lockout         time.Duration // default 5 minutes
	NoSaleReasons   []string      // chosen by number at a no-sale
	MaxParked       int           // default 5
	MaxLines        int           // per document; default 200
	MaxLineQuantity int64         // thousandths; default 999 pieces
}

func (c *Config) defaults() {
	if c.MaxPINFailures <= 0 {
		c.MaxPINFailures = 3
	}
	if c.Lockout <= 0 {
		c.Lockout = 5 * time.Minute
	}
	if c.DecimalSep == "" {
		c.DecimalSep = "."
	}
	if len(c.NoSaleReasons) == 0 {
		c.NoSaleReasons = []string{"change for customer", "cash check", "correction"}
	}
	if c.MaxParked <= 0 {
		c.MaxParked = 5
	}
	if c.MaxLines <= 0 {
		c.MaxLines = 200
	}
	if c.MaxLineQuantity <= 0 {
		c.MaxLineQuantity = 999_000
	}
}

// Output is what one input produced.
type Output struct {
	Operator [2]string     // operator display: line 1 what happened or is asked, line 2 the input
	Customer *CustomerView // what the customer display should show; nil: unchanged
	Refused  string        // why the input was refused; nothing changed
	Commit   *Commit       // a document to journal: the caller appends it, then calls Committed
	Save     []Record      // side records to persist (open sale, parked sales)
	Sync     bool          // the cashier asked for a sync now
}

// CustomerView is the two lines facing the customer: text left, amount right.
type CustomerView struct {
	Left  [2]string
	Right [2]string
}

// Commit is a document for the ledger: the entry, the stock it moves and what follows it.
// The caller appends Entry with the stock moves, records and (when Print) a print job in one
// transaction, then prints, then opens the drawer, then calls Engine.Committed.
type Commit struct {
	Entry      journal.Entry
	Stock      []StockMove
	Records    []Record
	Print      bool
	OpenDrawer string // the reason the drawer opens after printing; "" keeps it shut
	Report     bool   // X or Z: the caller fills Entry.Data with the report figures
}

// StockMove is a local stock change of one item, in thousandths.
type StockMove struct {
	Item string
	Qty  int64
}

// Record is a side record: Value nil deletes.
type Record struct {
	Bucket, Key string
	Value       []byte
}

// Records the engine keeps in the ledger.
const (
	BucketTill     = "till"     // KeyOpenSale: the sale in progress, restored after a crash
	BucketParked   = "parked"   // parked sales by number
	BucketRefunded = "refunded" // per original receipt: quantities refunded so far
	KeyOpenSale    = "open-sale"
)

type mode int

const (
	modeSignedOff mode = iota
	modeCashierID
	modePIN
	modeIdle
	modeSale
	modeTender
	modeCardConfirm
	modeSupervisorID
	modeSupervisorPIN
	modeRefundReceipt
	modeRefund
	modeNoSaleReason
	modeMenu
	modeAmount // cash in / cash out amount
	modeOrder  // transfer / internal release: order number
	modeDocument
	modeBusy // a commit is with the caller
)

// Engine is the sale engine. It is not safe for concurrent use: the run loop owns it.
type Engine struct {
	cfg     Config
	cat     *Catalog
	journal Journal

	mode     mode
	cashier  *Cashier
	input    string
	qty      int64 // pending quantity (thousandths) from QTY; 0 means one
	sale     *Sale
	parked   map[int]*Sale
	failures map[string]int
	locked   map[string]time.Time
	pending  *pendingAction // waits for a supervisor
	signOnID string
	menuKind journal.Kind
	busy     *Commit
	lastOut  Output
}

type pendingAction struct {
	what  string // shown to the supervisor
	then  func(sup *Cashier, now time.Time) Output
	back  mode
	supID string
}

// Sale is a document in progress: a sale, a refund or a stock document.
type Sale struct {
	Kind     journal.Kind     `json:"kind"`
	Lines    []journal.Line   `json:"lines"`
	Voided   []journal.Line   `json:"voided,omitempty"`
	Tenders  []journal.Tender `json:"tenders,omitempty"`
	Ref      string           `json:"ref,omitempty"`      // refund: the original receipt
	Approved string           `json:"approved,omitempty"` // supervisor who approved
	Order    string           `json:"order,omitempty"`    // transfer / release: the order number
	Started  time.Time        `json:"started"`
	Cashier  string           `json:"cashier"`
	// refundable: per item, what may still be refunded against Ref, and at what price.
	Refundable map[string]refundable `json:"refundable,omitempty"`
}

type refundable struct {
	Qty   int64  `json:"qty"`
	Price int64  `json:"price"`
	Name  string `json:"name"`
	Tax   string `json:"tax"`
}

// New makes an engine selling from cat. cat may be replaced later with SetCatalog.
func New(cfg Config, cat *Catalog, j Journal) *Engine {
	cfg.defaults()
	if cat == nil {
		cat = &Catalog{}
	}
	return &Engine{cfg: cfg, cat: cat, journal: j, parked: map[int]*Sale{},
		failures: map[string]int{}, locked: map[string]time.Time{}}
}

// SetCatalog replaces the catalog; a sale in progress keeps the prices it was rung up at.
func (e *Engine) SetCatalog(cat *Catalog) {
	if cat != nil {
		e.cat = cat
	}
}

// Catalog is the catalog in use.
func (e *Engine) Catalog() *Catalog { return e.cat }

// Cashier is who is signed on, or nil.
func (e *Engine) Cashier() *Cashier { return e.cashier }

// Sale is the document in progress, or nil. The caller must not change it.
func (e *Engine) Sale() *Sale { return e.sale }

// Parked lists the numbers of parked sales in order.
func (e *Engine) Parked() []int {
	var ns []int
	for n := range e.parked {
		ns = append(ns, n)
	}
	sort.Ints(ns)
	return ns
}

// Restore brings back what the ledger held at start-up: the sale open when the till
// stopped (restored, with its cashier signed on again) and the parked sales. Records that
// do not decode are reported and skipped, never guessed at.
func (e *Engine) Restore(open []byte, parked map[string][]byte) error {
	var errs []string
	for k, v := range parked {
		n, err := strconv.Atoi(k)
		var s Sale
		if err == nil {
			err = json.Unmarshal(v, &s)
		}
		if err != nil {
			errs = append(errs, fmt.Sprintf("parked sale %s: %v", k, err))
			continue
		}
		e.parked[n] = &s
	}
	if len(open) > 0 {
		var s Sale
		if err := json.Unmarshal(open, &s); err != nil {
			errs = append(errs, "open sale: "+err.Error())
		} else if c, ok := e.cat.Cashiers[s.Cashier]; ok {
			e.sale, e.cashier = &s, &c
			e.mode = e.backMode()
		} else {
			errs = append(errs, fmt.Sprintf("open sale of unknown cashier %q", s.Cashier))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("till: restore: %s", strings.Join(errs, "; "))
	}
	return nil
}

// Key feeds one key press.
func (e *Engine) Key(k Key, now time.Time) Output {
	if e.mode == modeBusy {
		return e.refuse("wait: the last document is being saved")
	}
	if k == KeySync {
		out := e.show("sync requested", "")
		out.Sync = true
		return out
	}
	if d, ok := digitOf(k); ok {
		return e.typed(d)
	}
	if k == KeyClear {
		return e.clear()
	}
	switch e.mode {
	case modeSignedOff, modeCashierID, modePIN:
		return e.signOnKey(k, now)
	case modeSupervisorID, modeSupervisorPIN:
		return e.supervisorKey(k, now)
	case modeIdle:
		return e.idleKey(k, now)
	case modeSale, modeRefund, modeDocument:
		return e.saleKey(k, now)
	case modeTender:
		return e.tenderKey(k, now)
	case modeCardConfirm:
		return e.cardConfirmKey(k, now)
	case modeRefundReceipt:
		if k == KeyEnter {
			return e.findReceipt(e.takeInput(), now)
		}
	case modeNoSaleReason:
		if k == KeyEnter {
			return e.noSaleReason(now)
		}
	case modeMenu:
		if k == KeyEnter {
			return e.menuChoice(now)
		}
	case modeAmount:
		if k == KeyEnter {
			return e.cashMove(now)
		}
	case modeOrder:
		if k == KeyEnter {
			return e.startDocument(now)
		}
	}
	return e.refuse(k.String() + " is not used here")
}

// ScanCode feeds one barcode read.
func (e *Engine) ScanCode(s Scan, now time.Time) Output {
	switch e.mode {
	case modeBusy:
		return e.refuse("wait: the last document is being saved")
	case modeRefundReceipt:
		return e.findReceipt(s.Code, now)
	case modeIdle:
		e.startSale(journal.KindSale, now)
		return e.addScan(s)
	case modeSale, modeRefund, modeDocument:
		return e.addScan(s)
	case modeSignedOff, modeCashierID, modePIN:
		return e.refuse("sign on first")
	}
	return e.refuse("finish this step before scanning")
}

func digitOf(k Key) (string, bool) {
	switch {
	case k >= Key0 && k <= Key9:
		return string(rune('0' + int(k-Key0))), true
	case k == Key00:
		return "00", true
	case k == KeyPoint:
		return ".", true
	}
	return "", false
}

func (e *Engine) typed(d string) Output {
	if len(e.input)+len(d) > 16 {
		return e.refuse("input too long")
	}
	e.input += d
	shown := e.input
	if e.mode == modePIN || e.mode == modeSupervisorPIN {
		shown = strings.Repeat("*", len(e.input))
	}
	return e.show(e.prompt(), shown)
}

func (e *Engine) takeInput() string {
	s := e.input
	e.input = ""
	return s
}

// clear drops typed input first; with nothing typed it steps back out of the current step.
func (e *Engine) clear() Output {
	if e.input != "" || e.qty != 0 {
		e.input, e.qty = "", 0
		return e.show(e.prompt(), "")
	}
	switch e.mode {
	case modeCashierID, modePIN:
		e.mode = modeSignedOff
	case modeSupervisorID, modeSupervisorPIN:
		if e.pending != nil {
			e.mode = e.pending.back
			e.pending = nil
		}
	case modeRefundReceipt, modeNoSaleReason, modeMenu, modeAmount, modeOrder:
		// A supervisor's approval is for the step it was given for, not for a later one.
		e.mode, e.pending = e.backMode(), nil
	case modeCardConfirm:
		e.mode, e.pending = modeTender, nil
	case modeTender:
		if len(e.sale.Tenders) == 0 {
			e.mode = e.saleMode()
		}
	case modeRefund, modeDocument:
		if len(e.sale.Lines) == 0 {
			e.sale = nil
			e.mode = modeIdle
			out := e.show("cancelled", "")
			out.Save = []Record{{Bucket: BucketTill, Key: KeyOpenSale}}
			return out
		}
	}
	return e.show(e.prompt(), "")
}

func (e *Engine) backMode() mode {
	switch {
	case e.cashier == nil:
		return modeSignedOff
	case e.sale == nil:
		return modeIdle
	case len(e.sale.Tenders) > 0:
		return modeTender
	}
	return e.saleMode()
}

// saleMode is the mode that adds lines to the open document.
func (e *Engine) saleMode() mode {
	switch {
	case e.sale.Kind == journal.KindRefund:
		return modeRefund
	case e.sale.Kind == journal.KindSale:
		return modeSale
	}
	return modeDocument
}

// Prompt is what the operator display shows when nothing happened yet: after start-up, or
// after a restored sale.
func (e *Engine) Prompt() [2]string { return [2]string{e.prompt(), e.input} }

// prompt is what the operator display asks for in the current mode.
func (e *Engine) prompt() string {
	switch e.mode {
	case modeSignedOff:
		return "SIGN ON: cashier no. + ENTER"
	case modeCashierID:
		return "cashier no. + ENTER"
	case modePIN:
		return "PIN + ENTER"
	case modeSupervisorID:
		return "SUPERVISOR for " + e.pending.what + ": no. + ENTER"
	case modeSupervisorPIN:
		return "SUPERVISOR PIN + ENTER"
	case modeIdle:
		if len(e.parked) > 0 {
			return fmt.Sprintf("ready, %d parked (PARK resumes)", len(e.parked))
		}
		return "ready: scan or PLU"
	case modeSale, modeRefund, modeDocument:
		return fmt.Sprintf("%s: %d lines, %s", e.sale.Kind, len(e.sale.Lines), e.Money(e.total()))
	case modeTender:
		return "due " + e.Money(e.due()) + ": amount + CASH/CARD"
	case modeCardConfirm:
		return "card " + e.Money(e.cardAmount()) + " approved? ENTER"
	case modeRefundReceipt:
		return "RETURN: receipt no. + ENTER or scan"
	case modeNoSaleReason:
		var rs []string
		for i, r := range e.cfg.NoSaleReasons {
			rs = append(rs, fmt.Sprintf("%d %s", i+1, r))
		}
		return "NO SALE reason: " + strings.Join(rs, ", ")
	case modeMenu:
		if e.sale != nil {
			return "MENU: 1 void sale"
		}
		return "MENU: 1 X 2 Z 3 cash in 4 cash out 5 transfer 6 release"
	case modeAmount:
		return string(e.menuKind) + ": amount + ENTER"
	case modeOrder:
		return string(e.menuKind) + ": order no. + ENTER (none: ENTER)"
	case modeBusy:
		return "saving…"
	}
	return ""
}

func (e *Engine) show(line1, line2 string) Output {
	out := Output{Operator: [2]string{line1, line2}}
	e.lastOut = out
	return out
}

// refuse reports why an input changed nothing.
func (e *Engine) refuse(why string) Output {
	out := Output{Operator: [2]string{"! " + why, e.input}, Refused: why}
	return out
}
