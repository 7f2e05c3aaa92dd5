package journal

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// Kind says what an entry records.
type Kind string

// Document kinds: each gets a receipt number.
const (
	KindSale            Kind = "sale"
	KindRefund          Kind = "refund"
	KindVoid            Kind = "void"     // a sale abandoned or cancelled before completion
	KindNoSale          Kind = "no-sale"  // drawer opened without a sale
	KindCashIn          Kind = "cash-in"  // float or cash added to the drawer
	KindCashOut         Kind = "cash-out" // cash taken from the drawer
	KindShiftOpen       Kind = "shift-open"
	KindShiftClose      Kind = "shift-close"
	KindXReport         Kind = "x-report"
	KindZReport         Kind = "z-report"
	KindStockTransfer   Kind = "stock-transfer"   // warehouse transfer document
	KindInternalRelease Kind = "internal-release" // internal stock release document
)

// Technical kinds: events of the box itself. They carry no receipt number.
const (
	KindPowerUp        Kind = "power-up"
	KindOfflineStart   Kind = "offline-start"
	KindOfflineEnd     Kind = "offline-end"
	KindIntegrityError Kind = "integrity-error"
	KindSignOn         Kind = "sign-on"
	KindSignOff        Kind = "sign-off"
	KindDrawer         Kind = "drawer"      // drawer opened or left open, with its reason
	KindUpdate         Kind = "update"      // firmware update applied, confirmed or rolled back
	KindReprint        Kind = "reprint"     // a copy of the receipt in Ref printed, marked COPY n
	KindPINFailure     Kind = "pin-failure" // a wrong cashier number or PIN, and any lockout it caused
	KindExport         Kind = "export"      // entries written to removable media while the till ran
)

var kinds = map[Kind]bool{
	KindSale: true, KindRefund: true, KindVoid: true, KindNoSale: true, KindCashIn: true,
	KindCashOut: true, KindShiftOpen: true, KindShiftClose: true, KindXReport: true,
	KindZReport: true, KindStockTransfer: true, KindInternalRelease: true,
	KindPowerUp: false, KindOfflineStart: false, KindOfflineEnd: false,
	KindIntegrityError: false, KindSignOn: false, KindSignOff: false, KindDrawer: false,
	KindUpdate: false, KindReprint: false, KindPINFailure: false, KindExport: false,
}

// Known reports whether k is a kind this ledger accepts.
func (k Kind) Known() bool { _, ok := kinds[k]; return ok }

// Document reports whether entries of kind k are documents with a receipt number.
func (k Kind) Document() bool { return kinds[k] }

// FormatVersion is the value of an entry's "v" field; it is also the wire payload version,
// because the stored bytes of an entry are exactly the payload the uplink publishes.
const FormatVersion = 1

// GenesisPrev is the prev of a till's first entry.
const GenesisPrev = "0000000000000000000000000000000000000000000000000000000000000000"

// Entry is one journal record. Money is in integer minor units of Currency; quantities are
// integer thousandths (1000 = one piece or one kilogram).
//
// Seq, Receipt, Prev and Hash are assigned by Append and ignored on input; Store and Till
// come from the ledger's identity.
type Entry struct {
	V        int             `json:"v"`
	Store    string          `json:"store"`
	Till     string          `json:"till"`
	Seq      uint64          `json:"seq"`
	Receipt  string          `json:"receipt,omitempty"`
	Kind     Kind            `json:"kind"`
	At       time.Time       `json:"at"`
	Cashier  string          `json:"cashier,omitempty"`
	Offline  bool            `json:"offline,omitempty"` // written while the uplink was down
	Currency string          `json:"currency,omitempty"`
	Lines    []Line          `json:"lines,omitempty"`
	Totals   *Totals         `json:"totals,omitempty"`
	Tenders  []Tender        `json:"tenders,omitempty"`
	Ref      string          `json:"ref,omitempty"`    // receipt number this entry reverses or refers to
	Reason   string          `json:"reason,omitempty"` // why: refund reason, no-sale reason, event detail
	Data     json.RawMessage `json:"data,omitempty"`   // kind-specific details (report figures, documents)
	Prev     string          `json:"prev"`
	Hash     string          `json:"hash,omitempty"`
	// Sig is the till's device signature over SigMessage(Hash): base64url (no padding) of
	// an ed25519 signature. It is not part of the canonical bytes (it signs them, through
	// the hash), so a ledger without a device key stores exactly what it stored before.
	Sig string `json:"sig,omitempty"`
}

// Line is one item line of a document.
type Line struct {
	Item    string `json:"item"`              // the item's code (PLU or SKU)
	Name    string `json:"name,omitempty"`    // as printed
	Barcode string `json:"barcode,omitempty"` // as scanned
	Qty     int64  `json:"qty"`               // thousandths; negative on a refund
	Price   int64  `json:"price"`             // unit price in minor units, tax included
	Amount  int64  `json:"amount"`            // line total in minor units, tax included
	Tax     string `json:"tax,omitempty"`     // tax rate code, e.g. "A"
}

// Totals are a document's totals.
type Totals struct {
	Gross  int64      `json:"gross"`            // minor units, tax included
	Taxes  []TaxTotal `json:"taxes,omitempty"`  // per rate
	Change int64      `json:"change,omitempty"` // given back in cash
}

// TaxTotal is the tax of one rate within a document (prices include tax).
type TaxTotal struct {
	Code  string `json:"code"`
	Rate  int64  `json:"rate"` // basis points: 2300 = 23%
	Net   int64  `json:"net"`
	Tax   int64  `json:"tax"`
	Gross int64  `json:"gross"`
}

// Tender is one payment of a document.
type Tender struct {
	Kind   string `json:"kind"` // "cash", "card", ...
	Amount int64  `json:"amount"`
	Ref    string `json:"ref,omitempty"` // card terminal reference
}

// CanonicalBytes returns the bytes the entry's hash is computed over: the entry's compact
// JSON encoding (encoding/json, fields in declared order) with Hash and Sig empty and so
// omitted. Prev is included, which chains each entry to the one before it.
func (e *Entry) CanonicalBytes() ([]byte, error) {
	c := *e
	c.Hash, c.Sig = "", ""
	b, err := json.Marshal(&c)
	if err != nil {
		return nil, fmt.Errorf("journal: encode seq %d: %w", e.Seq, err)
	}
	return b, nil
}

// ComputeHash returns the hex SHA-256 of the entry's canonical bytes.
func (e *Entry) ComputeHash() (string, error) {
	b, err := e.CanonicalBytes()
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), nil
}

// CheckHash reports whether e.Hash is the hash of e's canonical bytes.
func (e *Entry) CheckHash() error {
	h, err := e.ComputeHash()
	if err != nil {
		return err
	}
	if h != e.Hash {
		return fmt.Errorf("hash %s does not match the entry's content (want %s)", Short(e.Hash), Short(h))
	}
	return nil
}

// SigMessage is what a till's device key signs for the entry whose hash is hash. The hash
// covers the canonical bytes, prev included, so the signature binds the content and the
// entry's place in the chain; the prefix keeps these signatures from being valid for any
// other kind of message signed with the same key.
func SigMessage(hash string) []byte {
	return []byte("tillbox-entry-v1\n" + hash)
}

// ReceiptNumber derives the number printed for the customer from the till's prefix and a
// document number, e.g. ReceiptNumber("S042-T03", 123) = "S042-T03-000123". Tills never coordinate to
// stay unique: the prefix names the till.
func ReceiptNumber(prefix string, n uint64) string {
	return fmt.Sprintf("%s-%06d", prefix, n)
}

// DefaultPrefix is the receipt prefix made from a till's identity: store and till upper-cased.
func DefaultPrefix(store, till string) string {
	return strings.ToUpper(store) + "-" + strings.ToUpper(till)
}

// ValidID reports whether s is a store or till id: 1-32 of [a-z0-9-], not starting with '-'.
func ValidID(s string) bool {
	if len(s) == 0 || len(s) > 32 || s[0] == '-' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// Short abbreviates a hash for messages.
func Short(h string) string {
	if len(h) > 12 {
		return h[:12] + "…"
	}
	if h == "" {
		return `""`
	}
	return h
}
