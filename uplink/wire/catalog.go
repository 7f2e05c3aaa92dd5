package wire

import (
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"

	"tillbox/ledger/journal"
)

// Catalog is a store's master data, published retained on the store's catalog topic. A till
// applies a catalog only when it is valid as a whole and its Version is higher than the one
// in use; otherwise it keeps the one it has.
type Catalog struct {
	V        int       `json:"v"`
	Store    string    `json:"store"`
	Version  uint64    `json:"version"`  // strictly increasing per store
	Currency string    `json:"currency"` // ISO 4217, e.g. "PLN"
	Taxes    []Tax     `json:"taxes"`
	Items    []Item    `json:"items"`
	Cashiers []Cashier `json:"cashiers"`
	// Orders are the open stock orders the store's tills issue transfers and releases
	// against: a document beyond its order is flagged for review at HQ. Absent from a
	// catalog without any, so such a catalog's bytes are what they were before orders.
	Orders []Order `json:"orders,omitempty"`
	// Sig is HQ's signature (SignCatalog). A till that knows HQ's key applies only
	// catalogs that carry a valid one.
	Sig string `json:"sig,omitempty"`
}

// Tax is a tax rate. Prices include tax.
type Tax struct {
	Code string `json:"code"` // printed beside each line, e.g. "A"
	Rate int64  `json:"rate"` // basis points: 2300 = 23%
	Name string `json:"name,omitempty"`
}

// Item units.
const (
	UnitPiece = "piece"
	UnitKg    = "kg" // sold by weight: quantities in grams (thousandths of a kilogram)
)

// Item is one sellable item.
type Item struct {
	Code     string   `json:"code"` // PLU or SKU: what lines and stock records name
	Name     string   `json:"name"`
	Barcodes []string `json:"barcodes,omitempty"`
	Price    int64    `json:"price"` // minor units per piece or per kg, tax included
	Tax      string   `json:"tax"`   // a Tax.Code of this catalog
	Unit     string   `json:"unit,omitempty"`
	OpenAge  int      `json:"age,omitempty"` // minimum customer age, 0 for none
}

// Cashier roles.
const (
	RoleCashier    = "cashier"
	RoleSupervisor = "supervisor" // may authorise refunds, no-sales and voids of completed sales
	RoleManager    = "manager"
)

// Cashier is a person who may sign on. The PIN is carried only as a hash (see HashPIN).
type Cashier struct {
	ID      string `json:"id"`
	Name    string `json:"name"`
	PINHash string `json:"pin_hash"`
	Role    string `json:"role"`
}

// Order is a stock order: what may leave the store's warehouse under its number.
type Order struct {
	Number string      `json:"number"`       // 1-64 printable ASCII characters, as typed at the till
	To     string      `json:"to,omitempty"` // the destination warehouse; "" the till asks
	Lines  []OrderLine `json:"lines"`
}

// OrderLine is one item of an order.
type OrderLine struct {
	Item string `json:"item"` // an Item.Code of this catalog
	Qty  int64  `json:"qty"`  // thousandths, 1 to MaxQty
}

// Catalog limits. A price is bounded so that a line total of a large quantity still fits
// an int64 with room to spare.
const (
	MaxPrice    = 1_000_000_000 // minor units: ten million in a two-decimal currency
	MaxItems    = 200_000
	MaxCashiers = 10_000
	MaxOrders   = 10_000
	// MaxOrderLines bounds one order's lines.
	MaxOrderLines = 1_000
)

// EncodeCatalog encodes c with v set.
func EncodeCatalog(c Catalog) ([]byte, error) {
	c.V = Version
	return marshal("catalog", &c)
}

// DecodeCatalog decodes a catalog received on topic t and validates it as a whole.
func DecodeCatalog(t Topic, p []byte) (*Catalog, error) {
	if t.Kind != KindCatalog {
		return nil, fmt.Errorf("wire: decode catalog: %w: topic kind %q", ErrTopic, t.Kind)
	}
	var c Catalog
	if err := decodeStrict("catalog", p, MaxCatalogBytes, &c, func() int { return c.V }); err != nil {
		return nil, err
	}
	if c.Store != t.Store {
		return nil, fmt.Errorf("wire: decode catalog: %w: payload is store %q, topic is %q", ErrIdentity, clip(c.Store), t.Store)
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return &c, nil
}

// Validate checks the catalog's own consistency.
func (c *Catalog) Validate() error {
	const what = "catalog"
	switch {
	case c.Store == "":
		return missing(what, "store")
	case !journal.ValidID(c.Store):
		return invalid(what, "store %q", clip(c.Store))
	case c.Version == 0:
		return missing(what, "version")
	case c.Version > MaxSeq:
		return invalid(what, "version %d above %d", c.Version, uint64(MaxSeq))
	case c.Currency == "":
		return missing(what, "currency")
	case len(c.Currency) != 3 || strings.ToUpper(c.Currency) != c.Currency || !printable(c.Currency):
		return invalid(what, "currency %q: want an ISO 4217 code", clip(c.Currency))
	case len(c.Items) > MaxItems:
		return invalid(what, "%d items, limit %d", len(c.Items), MaxItems)
	case len(c.Cashiers) > MaxCashiers:
		return invalid(what, "%d cashiers, limit %d", len(c.Cashiers), MaxCashiers)
	}
	taxes := map[string]bool{}
	for i, t := range c.Taxes {
		switch {
		case t.Code == "":
			return missing(what, fmt.Sprintf("taxes[%d].code", i))
		case taxes[t.Code]:
			return invalid(what, "tax %q defined twice", clip(t.Code))
		case t.Rate < 0 || t.Rate > MaxTaxRate:
			return invalid(what, "tax %q: rate %d basis points outside 0-%d", clip(t.Code), t.Rate, MaxTaxRate)
		}
		taxes[t.Code] = true
	}
	codes, barcodes := map[string]bool{}, map[string]string{}
	for i, it := range c.Items {
		switch {
		case it.Code == "":
			return missing(what, fmt.Sprintf("items[%d].code", i))
		case len(it.Code) > 64 || !printable(it.Code):
			return invalid(what, "items[%d].code: want 1-64 printable ASCII characters", i)
		case codes[it.Code]:
			return invalid(what, "item %q defined twice", clip(it.Code))
		case it.Name == "":
			return missing(what, fmt.Sprintf("item %q: name", clip(it.Code)))
		case it.Price < 0:
			return invalid(what, "item %q: negative price %d", clip(it.Code), it.Price)
		case it.Price > MaxPrice:
			return invalid(what, "item %q: price %d above the limit %d (minor units)", clip(it.Code), it.Price, MaxPrice)
		case !taxes[it.Tax]:
			return invalid(what, "item %q: unknown tax code %q", clip(it.Code), clip(it.Tax))
		case it.Unit != "" && it.Unit != UnitPiece && it.Unit != UnitKg:
			return invalid(what, "item %q: unit %q: want %q or %q", clip(it.Code), clip(it.Unit), UnitPiece, UnitKg)
		case it.OpenAge < 0 || it.OpenAge > 99:
			return invalid(what, "item %q: age %d", clip(it.Code), it.OpenAge)
		}
		codes[it.Code] = true
		for _, b := range it.Barcodes {
			if b == "" || len(b) > 32 || !digits(b) {
				return invalid(what, "item %q: barcode %q: want 1-32 digits", clip(it.Code), clip(b))
			}
			if other, dup := barcodes[b]; dup {
				return invalid(what, "barcode %s on both %q and %q", b, clip(other), clip(it.Code))
			}
			barcodes[b] = it.Code
		}
	}
	ids := map[string]bool{}
	for i, ca := range c.Cashiers {
		switch {
		case ca.ID == "":
			return missing(what, fmt.Sprintf("cashiers[%d].id", i))
		case ids[ca.ID]:
			return invalid(what, "cashier %q defined twice", clip(ca.ID))
		case ca.PINHash == "":
			return missing(what, fmt.Sprintf("cashier %q: pin_hash", clip(ca.ID)))
		case ca.Role != RoleCashier && ca.Role != RoleSupervisor && ca.Role != RoleManager:
			return invalid(what, "cashier %q: role %q", clip(ca.ID), clip(ca.Role))
		}
		if _, _, _, err := parsePINHash(ca.PINHash); err != nil {
			return invalid(what, "cashier %q: %v", clip(ca.ID), err)
		}
		ids[ca.ID] = true
	}
	return c.validateOrders(codes)
}

// validateOrders checks the orders against the catalog's items.
func (c *Catalog) validateOrders(codes map[string]bool) error {
	const what = "catalog"
	if len(c.Orders) > MaxOrders {
		return invalid(what, "%d orders, limit %d", len(c.Orders), MaxOrders)
	}
	numbers := map[string]bool{}
	for i, o := range c.Orders {
		switch {
		case o.Number == "":
			return missing(what, fmt.Sprintf("orders[%d].number", i))
		case len(o.Number) > 64 || !printable(o.Number):
			return invalid(what, "orders[%d].number: want 1-64 printable ASCII characters", i)
		case numbers[o.Number]:
			return invalid(what, "order %q defined twice", clip(o.Number))
		case len(o.To) > 64 || !printable(o.To):
			return invalid(what, "order %q: to: want up to 64 printable ASCII characters", clip(o.Number))
		case len(o.Lines) == 0:
			return missing(what, fmt.Sprintf("order %q: lines", clip(o.Number)))
		case len(o.Lines) > MaxOrderLines:
			return invalid(what, "order %q: %d lines, limit %d", clip(o.Number), len(o.Lines), MaxOrderLines)
		}
		numbers[o.Number] = true
		items := map[string]bool{}
		for _, l := range o.Lines {
			switch {
			case !codes[l.Item]:
				return invalid(what, "order %q: unknown item %q", clip(o.Number), clip(l.Item))
			case items[l.Item]:
				return invalid(what, "order %q: item %q twice", clip(o.Number), clip(l.Item))
			case l.Qty < 1 || l.Qty > MaxQty:
				return invalid(what, "order %q: item %q: quantity %d outside 1-%d thousandths", clip(o.Number), clip(l.Item), l.Qty, MaxQty)
			}
			items[l.Item] = true
		}
	}
	return nil
}

// Item returns the item with code, or nil.
func (c *Catalog) Item(code string) *Item {
	for i := range c.Items {
		if c.Items[i].Code == code {
			return &c.Items[i]
		}
	}
	return nil
}

// PIN hashes have the form "pbkdf2-sha256$<iterations>$<salt hex>$<key hex>": PBKDF2 with
// SHA-256 and a 32-byte key. A PIN of a few digits is weak against a stolen catalog
// whatever the hash; the iterations make a brute force cost something, and lockout after
// repeated failures is what protects the till itself.
const pinScheme = "pbkdf2-sha256"

// MinPINIterations and MaxPINIterations bound the PBKDF2 iterations a catalog may use:
// the most keeps one PIN check of a hostile catalog under a few seconds on a till.
const (
	MinPINIterations = 1000
	MaxPINIterations = 10_000_000
)

// HashPIN hashes pin with salt (at least 8 random bytes, chosen by the caller) and iter
// iterations, in the catalog's PIN hash format.
func HashPIN(pin string, salt []byte, iter int) (string, error) {
	if len(salt) < 8 || len(salt) > 64 || iter < MinPINIterations || iter > MaxPINIterations {
		return "", fmt.Errorf("wire: hash pin: %w: a salt of 8-64 bytes and %d-%d iterations needed", ErrInvalid, MinPINIterations, MaxPINIterations)
	}
	key, err := pbkdf2.Key(sha256.New, pin, salt, iter, 32)
	if err != nil {
		return "", fmt.Errorf("wire: hash pin: %w", err)
	}
	return pinScheme + "$" + strconv.Itoa(iter) + "$" + hex.EncodeToString(salt) + "$" + hex.EncodeToString(key), nil
}

// CheckPIN reports whether pin matches hash, in constant time over the key.
func CheckPIN(hash, pin string) bool {
	iter, salt, key, err := parsePINHash(hash)
	if err != nil {
		return false
	}
	got, err := pbkdf2.Key(sha256.New, pin, salt, iter, len(key))
	return err == nil && hmac.Equal(got, key)
}

func parsePINHash(h string) (iter int, salt, key []byte, err error) {
	parts := strings.Split(h, "$")
	if len(parts) != 4 || parts[0] != pinScheme {
		return 0, nil, nil, fmt.Errorf("pin hash: want %s$<iterations>$<salt hex>$<key hex> (a plain PIN is refused)", pinScheme)
	}
	iter, err = strconv.Atoi(parts[1])
	if err != nil || iter < MinPINIterations || iter > MaxPINIterations || strconv.Itoa(iter) != parts[1] {
		return 0, nil, nil, fmt.Errorf("pin hash: iterations %q: want %d-%d in decimal", clip(parts[1]), MinPINIterations, MaxPINIterations)
	}
	salt, err = hex.DecodeString(parts[2])
	if err != nil || len(salt) < 8 || len(salt) > 64 {
		return 0, nil, nil, fmt.Errorf("pin hash: salt: want 8-64 bytes in hex")
	}
	key, err = hex.DecodeString(parts[3])
	if err != nil || len(key) != 32 {
		return 0, nil, nil, fmt.Errorf("pin hash: key: want 32 bytes in hex")
	}
	return iter, salt, key, nil
}

func digits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
