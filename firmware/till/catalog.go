package till

import (
	"crypto/pbkdf2"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
)

// Catalog is the master data the engine sells from. Prices include tax and are in minor
// units of Config.Currency.
type Catalog struct {
	Version  int64
	Items    map[string]Item    // by item code (PLU)
	Barcodes map[string]string  // barcode -> item code
	Taxes    map[string]Tax     // by tax code
	Cashiers map[string]Cashier // by cashier id
	Orders   map[string]Order   // open stock transfer orders, by order number
}

// Item is a sellable item.
type Item struct {
	Code    string
	Name    string
	Price   int64 // per piece, or per kilogram when Weighed; 0 means the price is missing
	Tax     string
	Weighed bool
}

// Tax is a tax rate.
type Tax struct {
	Code string
	Rate int64 // basis points: 2300 = 23%
}

// Role is what a cashier may do.
type Role string

const (
	RoleCashier    Role = "cashier"
	RoleSupervisor Role = "supervisor"
)

// Cashier is a person who may sign on. PINHash is made by HashPIN; the PIN itself is never
// stored.
type Cashier struct {
	ID      string
	Name    string
	Role    Role
	PINHash string
}

// Order is a stock transfer order from HQ: the quantities (thousandths) expected per item.
type Order struct {
	Number string
	To     string
	Lines  map[string]int64
}

// pinIterations is the PBKDF2 cost: a few milliseconds on the till's ARM core, enough to
// make a stolen catalog's PIN hashes expensive to search.
const pinIterations = 4096

// HashPIN returns "pbkdf2-sha256$ITER$SALTHEX$KEYHEX" for pin with salt: the form the
// catalog carries (see uplink/wire).
func HashPIN(pin, salt string) string {
	key, err := pbkdf2.Key(sha256.New, pin, []byte(salt), pinIterations, 32)
	if err != nil {
		panic(err) // only for invalid parameters, which are constants here
	}
	return fmt.Sprintf("pbkdf2-sha256$%d$%s$%s", pinIterations, hex.EncodeToString([]byte(salt)), hex.EncodeToString(key))
}

// checkPIN reports whether pin matches hash, in constant time over the derived key.
func checkPIN(hash, pin string) bool {
	parts := strings.Split(hash, "$")
	if len(parts) != 4 || parts[0] != "pbkdf2-sha256" {
		return false
	}
	iter, err := strconv.Atoi(parts[1])
	if err != nil || iter < 1 || iter > 1<<20 {
		return false
	}
	want, err := hex.DecodeString(parts[3])
	if err != nil || len(want) == 0 {
		return false
	}
	salt, err := hex.DecodeString(parts[2])
	if err != nil {
		return false
	}
	got, err := pbkdf2.Key(sha256.New, pin, salt, iter, len(want))
	return err == nil && subtle.ConstantTimeCompare(got, want) == 1
}
