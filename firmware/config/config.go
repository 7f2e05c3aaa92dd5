package config

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"tillbox/ledger/journal"
)

//go:embed default.json
var defaultJSON []byte

// Config is the till's configuration.
type Config struct {
	Store    string `json:"store"`
	Till     string `json:"till"`
	Board    string `json:"board"`    // board profile: sim, qemu-virt, rpi4
	Data     string `json:"data"`     // data directory: ledger, keys
	Currency string `json:"currency"` // ISO 4217
	Decimal  string `json:"decimal"`  // decimal separator on receipts and displays

	Receipt Receipt `json:"receipt"`
	Uplink  Uplink  `json:"uplink"`
	// Devices override the board profile, per device name ("printer", "scanner", ...).
	Devices map[string]json.RawMessage `json:"devices,omitempty"`

	DrawerLeftOpen Duration `json:"drawer_left_open"` // alert after the drawer stays open this long
	NoSaleReasons  []string `json:"no_sale_reasons"`
	Catalog        string   `json:"catalog"` // "demo" or a file with the catalog as HQ publishes it

	Retention Retention `json:"retention"`
}

// Retention is how long the till keeps entries HQ has acknowledged (HQ keeps everything).
type Retention struct {
	Keep         Duration `json:"keep"`          // acknowledged entries older than this are pruned; 0 keeps all
	RefundWindow Duration `json:"refund_window"` // receipts younger than this stay at the till, even on a low disk
	LowDiskMB    int      `json:"low_disk_mb"`   // below this much free space, prune every acknowledged entry outside the refund window
}

// Receipt is the printed receipt's fixed text.
type Receipt struct {
	Header []string `json:"header"`
	Footer []string `json:"footer"`
	Width  int      `json:"width"` // characters per line; 0: the printer's
}

// Uplink is how the till reaches HQ.
type Uplink struct {
	Broker string `json:"broker"` // tcp://host:port or ssl://host:port; "" runs offline
	Prefix string `json:"prefix"`
	// Embedded starts an in-process HQ (broker and consumer) for a single store or a
	// laptop: the broker address is then where it listens.
	Embedded bool   `json:"embedded"`
	Username string `json:"username,omitempty"`
	Password string `json:"password,omitempty"`
}

// Duration is a time.Duration written as "90s" in JSON.
type Duration struct{ time.Duration }

func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(d.String()) }

func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("want a duration such as \"90s\": %w", err)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return err
	}
	d.Duration = v
	return nil
}

// Default returns the embedded defaults: the sim board, a demo catalog and an embedded HQ.
func Default() *Config {
	c, err := parse(defaultJSON, nil)
	if err != nil {
		panic("config: embedded defaults: " + err.Error())
	}
	return c
}

// Load reads path over the defaults. An empty path gives the defaults.
func Load(path string) (*Config, error) {
	if path == "" {
		return Default(), nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	c, err := parse(b, Default())
	if err != nil {
		return nil, fmt.Errorf("config: %s: %w", path, err)
	}
	return c, nil
}

// parse lays b over base (nil: an empty config) and validates the result.
func parse(b []byte, base *Config) (*Config, error) {
	c := &Config{}
	if base != nil {
		*c = *base
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(c); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			line := bytes.Count(b[:min(int(se.Offset), len(b))], []byte("\n")) + 1
			return nil, fmt.Errorf("line %d: %w", line, err)
		}
		return nil, err
	}
	if dec.More() {
		return nil, errors.New("trailing data after the configuration object")
	}
	return c, c.Validate()
}

// Validate checks every field and reports all problems at once.
func (c *Config) Validate() error {
	var p []string
	if !journal.ValidID(c.Store) {
		p = append(p, fmt.Sprintf("store %q: want 1-32 of a-z, 0-9, -", c.Store))
	}
	if !journal.ValidID(c.Till) {
		p = append(p, fmt.Sprintf("till %q: want 1-32 of a-z, 0-9, -", c.Till))
	}
	if c.Board == "" {
		p = append(p, "board: missing")
	}
	if c.Data == "" {
		p = append(p, "data: missing")
	}
	if len(c.Currency) != 3 || strings.ToUpper(c.Currency) != c.Currency {
		p = append(p, fmt.Sprintf("currency %q: want an ISO 4217 code such as EUR", c.Currency))
	}
	if c.Decimal != "." && c.Decimal != "," {
		p = append(p, fmt.Sprintf("decimal %q: want \".\" or \",\"", c.Decimal))
	}
	if c.DrawerLeftOpen.Duration < time.Second || c.DrawerLeftOpen.Duration > time.Hour {
		p = append(p, fmt.Sprintf("drawer_left_open %s: want 1s to 1h", c.DrawerLeftOpen.Duration))
	}
	if c.Receipt.Width < 0 || c.Receipt.Width > 80 {
		p = append(p, fmt.Sprintf("receipt.width %d: want 0-80", c.Receipt.Width))
	}
	if c.Uplink.Broker != "" && !strings.HasPrefix(c.Uplink.Broker, "tcp://") && !strings.HasPrefix(c.Uplink.Broker, "ssl://") {
		p = append(p, fmt.Sprintf("uplink.broker %q: want tcp://host:port or ssl://host:port", c.Uplink.Broker))
	}
	if c.Catalog == "" {
		p = append(p, "catalog: missing (\"demo\" or a file)")
	}
	if len(p) > 0 {
		return errors.New(strings.Join(p, "; "))
	}
	return nil
}

// ReceiptPrefix is the receipt number prefix of this till.
func (c *Config) ReceiptPrefix() string { return journal.DefaultPrefix(c.Store, c.Till) }
