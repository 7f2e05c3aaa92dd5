package config

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
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

	// Timezone is the IANA zone receipts and screens show local time in (e.g.
	// "Europe/Berlin"); "" is UTC. Journal entries are always in UTC.
	Timezone string `json:"timezone,omitempty"`
	// CashRounding is the step, in minor units, cash payments are rounded to (5 rounds
	// to 0.05, as CHF is paid); 0 or 1: none.
	CashRounding int64 `json:"cash_rounding,omitempty"`
	// DiscountLimit is the largest discount a cashier gives without a supervisor, in
	// percent of the amount it is taken off; 0: 10%.
	DiscountLimit   float64  `json:"discount_limit,omitempty"`
	DiscountReasons []string `json:"discount_reasons,omitempty"`
	CashInReasons   []string `json:"cash_in_reasons,omitempty"`
	CashOutReasons  []string `json:"cash_out_reasons,omitempty"`
	// Warehouse is the stock this till's transfers and releases are issued from (default:
	// the store id); Warehouses are their destinations, chosen by number.
	Warehouse       string   `json:"warehouse,omitempty"`
	Warehouses      []string `json:"warehouses,omitempty"`
	TransferReasons []string `json:"transfer_reasons,omitempty"`
	ReleaseReasons  []string `json:"release_reasons,omitempty"`
	// USBExport is the directory the menu's USB export writes to (where the stick is
	// mounted); "" is DATA/export.
	USBExport string `json:"usb_export,omitempty"`

	Technician Technician `json:"technician"`
	Retention  Retention  `json:"retention"`
}

// Location is the configured time zone (UTC when none is set). Validate has checked it.
func (c *Config) Location() *time.Location {
	if c.Timezone == "" {
		return time.UTC
	}
	loc, err := time.LoadLocation(c.Timezone)
	if err != nil {
		return time.UTC
	}
	return loc
}

// TechnicianOff is Technician.Listen for a box that serves no technician page.
const TechnicianOff = "off"

// Technician is the technician's local web page (package techpage).
type Technician struct {
	// Listen is host:port (default 127.0.0.1:8080) or "off". A host off the loopback, or
	// none (":8080", every interface), is refused unless AllowRemote is set.
	Listen string `json:"listen"`
	// AllowRemote lets the page listen off the loopback and answer requests whose peer or
	// Host is not a loopback address. The per-box token is needed either way.
	AllowRemote bool `json:"allow_remote"`
}

// LoopbackHost reports whether host (without a port) names the loopback: "localhost" or a
// loopback IP address.
func LoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// check returns what is wrong with t, or "".
func (t Technician) check() string {
	if t.Listen == TechnicianOff {
		return ""
	}
	host, port, err := net.SplitHostPort(t.Listen)
	if err != nil {
		return fmt.Sprintf("technician.listen %q: want host:port or \"off\"", t.Listen)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return fmt.Sprintf("technician.listen %q: port %q: want 0-65535", t.Listen, port)
	}
	if host != "" && host != "localhost" && net.ParseIP(host) == nil {
		return fmt.Sprintf("technician.listen %q: want an IP address or localhost as the host", t.Listen)
	}
	if !t.AllowRemote && !LoopbackHost(host) {
		return fmt.Sprintf("technician.listen %q is off the loopback: set technician.allow_remote to serve the page to the network", t.Listen)
	}
	return ""
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

	// The uplink's timings. An absent or zero field keeps the default configuration's
	// value (default.json), or, where that has none either, the uplink's own default:
	// zero never means "no wait", so a configuration means the same once written back.
	// ResendAfter: when HQ's acknowledgement has not moved for this long, the till probes
	// (sends its last entry again) and resends from the watermark only if HQ's answer
	// still lacks entries, or after six timeouts in a row (default 15s).
	ResendAfter Duration `json:"resend_after,omitzero"`
	// BackoffMin and BackoffMax bound the jittered wait between connection attempts
	// (defaults 500ms and 60s).
	BackoffMin Duration `json:"backoff_min,omitzero"`
	BackoffMax Duration `json:"backoff_max,omitzero"`
	// OfflineAfter: a loss of the link shorter than this is not journaled (default 30s).
	OfflineAfter Duration `json:"offline_after,omitzero"`
	// TxQoS0 sends the sales with MQTT QoS 0: true where Broker lists the nodes of a NATS
	// cluster, false for Mosquitto (uplink.Options.TxQoS0 says why).
	TxQoS0 bool `json:"tx_qos0,omitempty"`
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
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("trailing data after the configuration object")
	}
	if base != nil {
		for _, d := range []struct{ got, def *Duration }{
			{&c.Uplink.ResendAfter, &base.Uplink.ResendAfter}, {&c.Uplink.BackoffMin, &base.Uplink.BackoffMin},
			{&c.Uplink.BackoffMax, &base.Uplink.BackoffMax}, {&c.Uplink.OfflineAfter, &base.Uplink.OfflineAfter},
		} {
			if d.got.Duration == 0 {
				*d.got = *d.def
			}
		}
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
	for _, d := range []struct {
		name string
		v    time.Duration
	}{
		{"resend_after", c.Uplink.ResendAfter.Duration}, {"backoff_min", c.Uplink.BackoffMin.Duration},
		{"backoff_max", c.Uplink.BackoffMax.Duration}, {"offline_after", c.Uplink.OfflineAfter.Duration},
	} {
		if d.v < 0 || d.v > 24*time.Hour {
			p = append(p, fmt.Sprintf("uplink.%s %s: want 0 (the default) to 24h", d.name, d.v))
		}
	}
	if lo, hi := c.Uplink.BackoffMin.Duration, c.Uplink.BackoffMax.Duration; lo > 0 && hi > 0 && hi < lo {
		p = append(p, fmt.Sprintf("uplink.backoff_max %s: below backoff_min %s", hi, lo))
	}
	if s := c.Technician.check(); s != "" {
		p = append(p, s)
	}
	if c.Catalog == "" {
		p = append(p, "catalog: missing (\"demo\" or a file)")
	}
	if c.Timezone != "" {
		if _, err := time.LoadLocation(c.Timezone); err != nil || c.Timezone == "Local" {
			p = append(p, fmt.Sprintf("timezone %q: want an IANA zone such as Europe/Berlin", c.Timezone))
		}
	}
	if c.CashRounding < 0 || c.CashRounding > 100 {
		p = append(p, fmt.Sprintf("cash_rounding %d: want 0-100 minor units (5 for 0.05)", c.CashRounding))
	}
	if c.DiscountLimit < 0 || c.DiscountLimit > 100 {
		p = append(p, fmt.Sprintf("discount_limit %g: want 0-100 percent", c.DiscountLimit))
	}
	if len(p) > 0 {
		return errors.New(strings.Join(p, "; "))
	}
	return nil
}

// ReceiptPrefix is the receipt number prefix of this till.
func (c *Config) ReceiptPrefix() string { return journal.DefaultPrefix(c.Store, c.Till) }
