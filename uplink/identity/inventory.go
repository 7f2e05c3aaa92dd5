package identity

import (
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"
)

// InventoryFile lists every certificate the CA issued (inventory.json in its directory).
const InventoryFile = "inventory.json"

// Issued is one certificate of the inventory.
type Issued struct {
	Name      string     `json:"name"` // "store/till", an account, or a server's first host
	Kind      string     `json:"kind"` // "till", "account" or "server"
	Serial    string     `json:"serial"`
	NotBefore time.Time  `json:"not_before"`
	NotAfter  time.Time  `json:"not_after"`
	Revoked   *time.Time `json:"revoked,omitempty"`
	// Renewed is set on a certificate the till replaced by renewal: it stays valid until
	// it expires (the till may still be using it until the new one is installed).
	Renewed *time.Time `json:"renewed,omitempty"`
}

// Current reports whether the certificate is still in use at now: neither revoked,
// renewed nor expired.
func (i Issued) Current(now time.Time) bool {
	return i.Revoked == nil && i.Renewed == nil && now.Before(i.NotAfter)
}

func readInventory(dir string) ([]Issued, error) {
	b, err := os.ReadFile(filepath.Join(dir, InventoryFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("identity: inventory: %w", err)
	}
	var list []Issued
	if err := json.Unmarshal(b, &list); err != nil {
		return nil, fmt.Errorf("identity: inventory: %s: %w", InventoryFile, err)
	}
	return list, nil
}

func writeInventory(dir string, list []Issued) error {
	sort.SliceStable(list, func(i, j int) bool {
		if list[i].Name != list[j].Name {
			return list[i].Name < list[j].Name
		}
		return list[i].NotBefore.Before(list[j].NotBefore)
	})
	b, _ := json.MarshalIndent(list, "", "  ")
	if err := writeFile(filepath.Join(dir, InventoryFile), append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("identity: inventory: %w", err)
	}
	return nil
}

// Inventory lists every certificate the CA issued, oldest first per name.
func (c *CA) Inventory() ([]Issued, error) { return readInventory(c.Dir) }

// Current returns the certificate of name in use at now, if there is one.
func (c *CA) Current(name string, now time.Time) (Issued, bool, error) {
	list, err := readInventory(c.Dir)
	if err != nil {
		return Issued{}, false, err
	}
	for i := len(list) - 1; i >= 0; i-- {
		if list[i].Name == name && list[i].Current(now) {
			return list[i], true, nil
		}
	}
	return Issued{}, false, nil
}

// record adds a freshly issued certificate to the inventory.
func (c *CA) record(kind string, cert *x509.Certificate) error {
	list, err := readInventory(c.Dir)
	if err != nil {
		return err
	}
	list = append(list, Issued{Name: cert.Subject.CommonName, Kind: kind, Serial: cert.SerialNumber.Text(16),
		NotBefore: cert.NotBefore.UTC(), NotAfter: cert.NotAfter.UTC()})
	return writeInventory(c.Dir, list)
}

// mark sets what set changes on the inventory's certificates of name that sel selects.
func (c *CA) mark(sel func(Issued) bool, set func(*Issued)) ([]Issued, error) {
	list, err := readInventory(c.Dir)
	if err != nil {
		return nil, err
	}
	var hit []Issued
	for i := range list {
		if sel(list[i]) {
			set(&list[i])
			hit = append(hit, list[i])
		}
	}
	if len(hit) == 0 {
		return nil, nil
	}
	return hit, writeInventory(c.Dir, list)
}

// CertInventory is a read-only view of a CA directory's inventory for a head office that
// does not hold the CA key: it reads the file again when it changes.
type CertInventory struct {
	dir string

	mu    sync.Mutex
	mtime time.Time
	cur   map[string]string // name -> serial of its current certificate
}

// OpenInventory opens the inventory of the CA directory dir.
func OpenInventory(dir string) (*CertInventory, error) {
	inv := &CertInventory{dir: dir}
	if err := inv.reload(); err != nil {
		return nil, err
	}
	return inv, nil
}

func (inv *CertInventory) reload() error {
	fi, err := os.Stat(filepath.Join(inv.dir, InventoryFile))
	if errors.Is(err, os.ErrNotExist) {
		inv.cur = map[string]string{}
		return nil
	}
	if err != nil {
		return fmt.Errorf("identity: inventory: %w", err)
	}
	if fi.ModTime().Equal(inv.mtime) && inv.cur != nil {
		return nil
	}
	list, err := readInventory(inv.dir)
	if err != nil {
		return err
	}
	cur := map[string]string{}
	for _, i := range list { // oldest first: the last one neither revoked nor renewed wins
		if i.Revoked == nil && i.Renewed == nil {
			cur[i.Name] = i.Serial
		}
	}
	inv.cur, inv.mtime = cur, fi.ModTime()
	return nil
}

// Serial is the serial (hex) of the certificate store/till holds (the last one issued,
// neither revoked nor renewed, expired or not), "" when it has none.
func (inv *CertInventory) Serial(store, till string) string {
	inv.mu.Lock()
	defer inv.mu.Unlock()
	if err := inv.reload(); err != nil && inv.cur == nil {
		return ""
	}
	return inv.cur[Name(store, till)]
}

// tillName checks that cn is "store/till".
func isTillName(cn string) bool { return strings.Count(cn, "/") == 1 }
