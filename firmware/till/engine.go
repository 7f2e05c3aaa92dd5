package till

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

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

// Journal is what the engine may read of the ledger: receipts for refunds, reprints and the
// receipt history, stock levels and how far head office has the journal.
type Journal interface {
	ByReceipt(receipt string) (journal.Entry, error)
	// Refunded gives the quantities (thousandths, positive) already refunded per item code
	// against receipt.
	Refunded(receipt string) (map[string]int64, error)
	// Documents gives up to n documents (entries with a receipt number), newest first.
	Documents(n int) ([]journal.Entry, error)
	// Copies is how many copies of receipt were printed so far.
	Copies(receipt string) (int, error)
	// Stock is an item's local stock level in thousandths.
	Stock(item string) (int64, error)
	// SyncStatus says where the entry seq is: SyncUnsynced, SyncSent or SyncStored.
	SyncStatus(seq uint64) string
}

// Sync states of an entry, as the receipt history shows them.
const (
	SyncUnsynced = "unsynced"     // only on this till
	SyncSent     = "sent"         // on its way to head office, not acknowledged yet
	SyncStored   = "stored at HQ" // acknowledged: head office holds it
)

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
	// PromptWidth is the operator display's line length: a longer prompt is shown in pages
	// of it, MENU showing the next page. Default 40.
	PromptWidth int
	// DiscountLimit is the largest discount, in basis points of the amount it is taken off,
	// a cashier may give; above it a supervisor approves. Default 1000 (10%).
	DiscountLimit   int64
	DiscountReasons []string // chosen by number at a discount
	CashInReasons   []string // chosen by number at a cash in
	CashOutReasons  []string // chosen by number at a cash out
	// CashRounding is the step, in minor units, a cash payment is rounded to (5 for
	// 0.05 CHF); 0 or 1: none.
	CashRounding int64
	// Location is the local time shown on the displays; nil: UTC. Entries stay in UTC.
	Location *time.Location
	// Warehouse is the stock this till issues documents from; Warehouses are where a
	// transfer or release may go, chosen by number when the order does not say.
	Warehouse       string
	Warehouses      []string
	TransferReasons []string
	ReleaseReasons  []string
	// TechnicianPage gives the technician page's address (host:port) and its token as the
	// display shows it, for MENU 15 (a supervisor's): nil when the box serves no page.
	TechnicianPage func() (addr, token string, err error)
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
	if c.PromptWidth <= 0 {
		c.PromptWidth = 40
	}
	if c.DiscountLimit <= 0 {
		c.DiscountLimit = 1000
	}
	if len(c.DiscountReasons) == 0 {
		c.DiscountReasons = []string{"damaged goods", "loyal customer", "price match", "staff"}
	}
	if len(c.CashInReasons) == 0 {
		c.CashInReasons = []string{"float top-up", "change from the bank"}
	}
	if len(c.CashOutReasons) == 0 {
		c.CashOutReasons = []string{"bank deposit", "supplier paid", "to the safe"}
	}
	if c.CashRounding <= 1 {
		c.CashRounding = 1
	}
	if c.Location == nil {
		c.Location = time.UTC
	}
	if c.Warehouse == "" {
		c.Warehouse = c.Store
	}
	if len(c.Warehouses) == 0 {
		c.Warehouses = []string{"central warehouse", "other store", "internal use"}
	}
	if len(c.TransferReasons) == 0 {
		c.TransferReasons = []string{"restock", "overstock back", "store to store"}
	}
	if len(c.ReleaseReasons) == 0 {
		c.ReleaseReasons = []string{"damaged", "expired", "own use", "samples"}
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
	Export   bool          // the cashier asked for the unsynced entries on removable media
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
	BucketCopies   = "copies"   // per receipt: copies printed so far
	BucketLockout  = "lockout"  // per cashier id: failed PINs and the lockout they caused
	KeyOpenSale    = "open-sale"
	KeyShift       = "shift" // in BucketTill: the open shift
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
	modeAsk  // a step asks for one input (askStep)
	modeBusy // a commit is with the caller
)

// Engine is the sale engine. It is not safe for concurrent use: the run loop owns it.
type Engine struct {
	cfg     Config
	cat     *Catalog
	journal Journal

	mode         mode
	cashier      *Cashier
	input        string
	qty          int64 // pending quantity (thousandths) from QTY; 0 means one
	sale         *Sale
	parked       map[int]*Sale
	failures     map[string]int
	locked       map[string]time.Time
	pending      *pendingAction // waits for a supervisor
	signOnID     string
	menuKind     journal.Kind
	busy         *Commit
	lastOut      Output
	step         *askStep // modeAsk: what is asked
	clearLockout string   // an id whose failure record the next output deletes
	shift        *Shift   // the open shift, nil: none
	pages        []string // the operator prompt in pages of PromptWidth
	page         int
	full         string // the prompt pages were made of
	pageMode     mode   // the mode and step it was shown in: a new one starts at page 1
	pageStep     *askStep
}

// Shift is an open shift: who opened it, with what float, and the seq of its shift-open
// entry (where its figures start).
type Shift struct {
	Cashier string    `json:"cashier"`
	Float   int64     `json:"float"`
	Seq     uint64    `json:"seq"`
	Opened  time.Time `json:"opened"`
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
	From     string           `json:"from,omitempty"`     // transfer / release: source warehouse
	To       string           `json:"to,omitempty"`       // transfer / release: destination
	Reason   string           `json:"reason,omitempty"`   // transfer / release: why
	Info     []LineInfo       `json:"info,omitempty"`     // per line, aligned with Lines
	Discount *SaleDiscount    `json:"discount,omitempty"` // on the whole sale
	Reversed []journal.Tender `json:"reversed,omitempty"` // card tenders cancelled before completion
	Rounding int64            `json:"rounding,omitempty"` // cash rounding of the last cash tender
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
		// The uplink answers with what the sync did; the prompt stays as it was.
		out := Output{Sync: true}
		return out
	}
	if k == KeyMenu && len(e.pages) > 1 && e.pageable() {
		e.page = (e.page + 1) % len(e.pages)
		return e.render(e.input)
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
	case modeAsk:
		return e.askKey(k, now)
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
	case modeAsk:
		if e.step.scan != nil {
			return e.step.scan(s, now)
		}
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
	if e.step != nil && e.step.t9 {
		shown = t9Text(e.input)
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
	case modeAsk:
		st := e.step
		e.step = nil
		e.mode = st.back
		if st.cancel != nil {
			return st.cancel()
		}
		e.dropEmptySale()
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
	case modeDocument:
		return fmt.Sprintf("%s to %s: %d lines, no stock check; ENTER ends it", e.sale.Kind, e.sale.To, len(e.sale.Lines))
	case modeSale, modeRefund:
		return fmt.Sprintf("%s: %d lines, %s", e.sale.Kind, len(e.sale.Lines), e.Money(e.total()))
	case modeTender:
		if c := e.cashDue(e.due()); c != e.due() {
			return "due " + e.Money(e.due()) + ", cash " + e.Money(c) + ": amount + CASH/CARD"
		}
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
			return saleMenu
		}
		return idleMenu
	case modeAsk:
		return e.step.prompt
	case modeAmount:
		return string(e.menuKind) + ": amount + ENTER"
	case modeOrder:
		return string(e.menuKind) + ": order no. + ENTER (none: ENTER)"
	case modeBusy:
		return "saving…"
	}
	return ""
}

// The menus, in pages of the operator display when they do not fit.
const (
	idleMenu = "MENU: 1 X report, 2 Z report, 3 cash in, 4 cash out, 5 transfer, 6 release, " +
		"7 receipts, 8 copy of the last receipt, 9 price check, 10 find item, 11 shift open, " +
		"12 shift close, 13 X of this cashier, 14 USB export, 15 technician page"
	saleMenu = "MENU: 1 void sale, 2 line discount, 3 sale discount, 4 price override, " +
		"5 price check, 6 find item, 7 cancel card payment"
)

// show puts line1 on the operator display, in pages when it is longer than the display, and
// line2 (the input or a detail) below it.
func (e *Engine) show(line1, line2 string) Output {
	if line1 != e.full || e.pages == nil || e.pageMode != e.mode || e.pageStep != e.step {
		e.full, e.pages, e.page = line1, Pages(line1, e.cfg.PromptWidth), 0
		e.pageMode, e.pageStep = e.mode, e.step
	}
	return e.render(line2)
}

// render shows the current page on line 1 and line2 below it: the typed input or, with
// nothing typed, the step's hint; a paged prompt says on line 2 which page it is.
func (e *Engine) render(line2 string) Output {
	l1 := e.pages[e.page]
	if line2 == "" && e.mode == modeAsk && e.step != nil {
		line2 = e.step.hint
	}
	if len(e.pages) > 1 {
		mark := fmt.Sprintf("(%d/%d, MENU: more)", e.page+1, len(e.pages))
		if line2 == "" {
			line2 = mark
		} else {
			line2 += " " + mark
		}
	}
	out := Output{Operator: [2]string{l1, line2}}
	e.lastOut = out
	return out
}

// pageable reports whether MENU pages the prompt rather than doing something else.
func (e *Engine) pageable() bool {
	switch e.mode {
	case modeMenu, modeAsk, modeNoSaleReason, modeSupervisorID, modeSupervisorPIN:
		return true
	}
	return false
}

// Pages cuts text into pages of at most width characters.
// It cuts after a comma where it can, so that a menu entry or a choice stays on one page,
// and otherwise at spaces; a word longer than a page is cut. Text that fits is one page.
func Pages(text string, width int) []string {
	if utf8.RuneCountInString(text) <= width {
		return []string{text}
	}
	room := width
	var pages []string
	var cur []rune
	add := func(r []rune) {
		switch {
		case len(cur) == 0:
			cur = r
		case len(cur)+1+len(r) <= room:
			cur = append(append(cur, ' '), r...)
		default:
			pages, cur = append(pages, string(cur)), r
		}
	}
	for _, chunk := range strings.SplitAfter(text, ", ") {
		chunk = strings.TrimSpace(chunk)
		if r := []rune(chunk); len(r) <= room {
			add(r)
			continue
		}
		for _, w := range strings.Fields(chunk) {
			r := []rune(w)
			for len(r) > room {
				if len(cur) > 0 {
					pages, cur = append(pages, string(cur)), nil
				}
				pages, r = append(pages, string(r[:room])), r[room:]
			}
			add(r)
		}
	}
	if len(cur) > 0 {
		pages = append(pages, string(cur))
	}
	return pages
}

// refuse reports why an input changed nothing. A reason longer than the display goes on
// on the second line, in place of the input.
func (e *Engine) refuse(why string) Output {
	e.pages = nil // the prompt shown next starts at its first page
	l1, l2 := "! "+why, e.input
	if r := []rune(l1); len(r) > e.cfg.PromptWidth {
		cut := e.cfg.PromptWidth
		if i := strings.LastIndex(string(r[:cut]), " "); i > 0 {
			cut = utf8.RuneCountInString(string(r[:cut])[:i])
		}
		l1, l2 = string(r[:cut]), strings.TrimSpace(string(r[cut:]))
	}
	return Output{Operator: [2]string{l1, l2}, Refused: why}
}

// Clock formats t as the displays show it: local time, hours and minutes.
func (e *Engine) Clock(t time.Time) string { return t.In(e.cfg.Location).Format("15:04") }
