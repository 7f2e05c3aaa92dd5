package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	_ "time/tzdata"
)

func TestDefaultsAreValid(t *testing.T) {
	c := Default()
	if c.Board != "sim" || c.Store != "s001" || c.DrawerLeftOpen.Duration != time.Minute || !c.Uplink.Embedded {
		t.Fatalf("defaults %+v", c)
	}
	if c.ReceiptPrefix() != "S001-T01" {
		t.Fatalf("prefix %q", c.ReceiptPrefix())
	}
}

func TestLoadOverlaysTheFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "till.json")
	os.WriteFile(p, []byte(`{"store":"s042","till":"t03","currency":"PLN","board":"qemu-virt","drawer_left_open":"90s"}`), 0o600)
	c, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	if c.Store != "s042" || c.Till != "t03" || c.Currency != "PLN" || c.Board != "qemu-virt" || c.DrawerLeftOpen.Duration != 90*time.Second || c.Catalog != "demo" {
		t.Fatalf("loaded %+v", c)
	}
}

func TestUplinkTimingsLoadOverTheDefaults(t *testing.T) {
	p := filepath.Join(t.TempDir(), "till.json")
	os.WriteFile(p, []byte(`{"uplink":{"broker":"tcp://hq:1883","embedded":false,"resend_after":"2s","backoff_min":"50ms","backoff_max":"3s"}}`), 0o600)
	c, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	u := c.Uplink
	if u.ResendAfter.Duration != 2*time.Second || u.BackoffMin.Duration != 50*time.Millisecond || u.BackoffMax.Duration != 3*time.Second {
		t.Fatalf("timings %+v", u)
	}
	// Fields the file does not name keep the defaults' values.
	if u.Prefix != "tillbox/v1" || u.OfflineAfter.Duration != Default().Uplink.OfflineAfter.Duration || u.OfflineAfter.Duration == 0 {
		t.Fatalf("uplink %+v lost the defaults", u)
	}
}

func TestBadConfigIsRefusedWithTheReason(t *testing.T) {
	cases := map[string]struct{ body, want string }{
		"not JSON":        {"{\n\"store\": \"s1\",\n oops }", "line 3"},
		"unknown field":   {`{"stor":"s1"}`, `unknown field "stor"`},
		"bad store":       {`{"store":"S 1"}`, `store "S 1"`},
		"bad currency":    {`{"currency":"euro"}`, `currency "euro"`},
		"bad duration":    {`{"drawer_left_open":"soon"}`, "duration"},
		"duration range":  {`{"drawer_left_open":"0s"}`, "drawer_left_open 0s"},
		"bad broker":      {`{"uplink":{"broker":"mqtt.example"}}`, "uplink.broker"},
		"trailing":        {`{} {}`, "trailing data"},
		"negative resend": {`{"uplink":{"resend_after":"-1s"}}`, "uplink.resend_after -1s"},
		"backoff order":   {`{"uplink":{"backoff_min":"5s","backoff_max":"1s"}}`, "below backoff_min"},
		"trailing brace":  {`{}}`, "trailing data"},
		"trailing ]":      {`{"store":"s1"}]`, "trailing data"},
		"several at once": {`{"store":"","till":""}`, `till ""`},
		"empty file":      {``, "EOF"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "till.json")
			os.WriteFile(p, []byte(tc.body), 0o600)
			_, err := Load(p)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), p) {
				t.Fatalf("err = %v, want it to name %s and contain %q", err, p, tc.want)
			}
		})
	}
	if _, err := Load(filepath.Join(t.TempDir(), "missing.json")); err == nil {
		t.Fatal("missing file loaded")
	}
}

func TestTechnicianListenIsOnTheLoopbackUnlessAllowed(t *testing.T) {
	if got := Default().Technician; got.Listen != "127.0.0.1:8080" || got.AllowRemote {
		t.Fatalf("default technician %+v", got)
	}
	load := func(body string) (*Config, error) {
		p := filepath.Join(t.TempDir(), "till.json")
		os.WriteFile(p, []byte(body), 0o600)
		return Load(p)
	}
	for body, want := range map[string]string{
		`{"technician":{"listen":"off"}}`:                                   "off",
		`{"technician":{"listen":"[::1]:9000"}}`:                            "[::1]:9000",
		`{"technician":{"listen":"localhost:0"}}`:                           "localhost:0",
		`{"technician":{"listen":"0.0.0.0:8080","allow_remote":true}}`:      "0.0.0.0:8080",
		`{"technician":{"listen":":8080","allow_remote":true}}`:             ":8080",
		`{"technician":{"listen":"192.168.1.20:8080","allow_remote":true}}`: "192.168.1.20:8080",
	} {
		c, err := load(body)
		if err != nil || c.Technician.Listen != want {
			t.Errorf("%s: %v, listen %q", body, err, c.Technician.Listen)
		}
	}
	for body, want := range map[string]string{
		`{"technician":{"listen":"0.0.0.0:8080"}}`:     "off the loopback",
		`{"technician":{"listen":":8080"}}`:            "off the loopback",
		`{"technician":{"listen":"10.0.0.5:8080"}}`:    "set technician.allow_remote",
		`{"technician":{"listen":"8080"}}`:             "want host:port",
		`{"technician":{"listen":""}}`:                 "want host:port",
		`{"technician":{"listen":"127.0.0.1:http"}}`:   "port \"http\"",
		`{"technician":{"listen":"127.0.0.1:70000"}}`:  "port \"70000\"",
		`{"technician":{"listen":"tillbox.lan:8080"}}`: "IP address or localhost",
		`{"technician":{"listne":"127.0.0.1:8080"}}`:   `unknown field "listne"`,
	} {
		if _, err := load(body); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: err %v, want %q", body, err, want)
		}
	}
}

func TestTradingSettings(t *testing.T) {
	p := filepath.Join(t.TempDir(), "till.json")
	os.WriteFile(p, []byte(`{"currency":"CHF","timezone":"Europe/Zurich","cash_rounding":5,"discount_limit":15,"discount_reasons":["staff"]}`), 0o600)
	c, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	if c.Location().String() != "Europe/Zurich" || c.CashRounding != 5 || c.DiscountLimit != 15 || c.DiscountReasons[0] != "staff" {
		t.Fatalf("loaded %+v", c)
	}
	if Default().Location() != time.UTC {
		t.Fatal("no zone configured is not UTC")
	}
	for body, want := range map[string]string{
		`{"timezone":"Mars/Olympus"}`: "timezone",
		`{"timezone":"Local"}`:        "timezone",
		`{"cash_rounding":-5}`:        "cash_rounding",
		`{"discount_limit":150}`:      "discount_limit",
	} {
		os.WriteFile(p, []byte(body), 0o600)
		if _, err := Load(p); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want an error about %s", body, err, want)
		}
	}
}
