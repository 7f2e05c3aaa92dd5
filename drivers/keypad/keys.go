package keypad

import (
	"fmt"
	"strings"
)

// Key is a POS key: what the till's sale engine understands, whatever physical key or
// scancode produced it.
type Key uint8

const (
	// KeyNone is a key the mapping does not know; presses of it are reported with their
	// code so that a technician can see what an unmapped key sends.
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
	KeyDecimal
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
	KeySignOnOff
	KeySync
	// KeyMenu opens the till's functions: X and Z reports, cash in and out, stock
	// documents, void of the open sale.
	KeyMenu

	numKeys
)

var keyNames = [numKeys]string{"NONE", "0", "1", "2", "3", "4", "5", "6", "7", "8", "9",
	"00", "DECIMAL", "QTY", "PLU", "VOID", "SUBTOTAL", "CASH", "CARD", "NO_SALE", "CLEAR",
	"ENTER", "PARK", "RETURN", "SIGN_ON_OFF", "SYNC", "MENU"}

// String returns the key's name as the mapping text writes it ("NO_SALE", "00", "7").
func (k Key) String() string {
	if k < numKeys {
		return keyNames[k]
	}
	return fmt.Sprintf("Key(%d)", int(k))
}

// Digit returns the digit of Key0..Key9.
func (k Key) Digit() (int, bool) {
	if k >= Key0 && k <= Key9 {
		return int(k - Key0), true
	}
	return 0, false
}

// ParseKey reads a key name. Case does not matter, and spaces, hyphens and slashes may
// stand for underscores, so "No Sale", "no-sale" and "SIGN ON/OFF" are read as people
// write them.
func ParseKey(s string) (Key, error) {
	n := strings.ToUpper(strings.TrimSpace(s))
	n = strings.NewReplacer(" ", "_", "-", "_", "/", "_").Replace(n)
	switch n {
	case "DOT", "POINT", ".":
		n = "DECIMAL"
	case "SIGN_ON", "SIGN_OFF", "SIGNON", "SIGNOFF":
		n = "SIGN_ON_OFF"
	}
	for k := Key0; k < numKeys; k++ {
		if keyNames[k] == n {
			return k, nil
		}
	}
	return KeyNone, fmt.Errorf("keypad: key %q: %w: unknown POS key", s, ErrMap)
}

// MarshalText writes the key's name.
func (k Key) MarshalText() ([]byte, error) {
	if k == KeyNone || k >= numKeys {
		return nil, fmt.Errorf("keypad: marshal key %d: %w", int(k), ErrMap)
	}
	return []byte(k.String()), nil
}

// UnmarshalText reads a key name as ParseKey does.
func (k *Key) UnmarshalText(b []byte) error {
	v, err := ParseKey(string(b))
	if err != nil {
		return err
	}
	*k = v
	return nil
}
