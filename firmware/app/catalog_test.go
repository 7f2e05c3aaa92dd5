package app

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"tillbox/uplink/wire"
)

func TestACatalogInAnotherCurrencyIsRefused(t *testing.T) {
	p := filepath.Join(t.TempDir(), "catalog.json")
	pln := strings.Replace(string(demoCatalog), `"currency": "EUR"`, `"currency": "PLN"`, 1)
	if pln == string(demoCatalog) {
		t.Fatal("the demo catalog names no EUR to replace")
	}
	os.WriteFile(p, []byte(pln), 0o600)
	if _, err := loadCatalog(p, "s001", "EUR"); err == nil || !strings.Contains(err.Error(), "prices in PLN, but this till sells in EUR") {
		t.Fatalf("a PLN catalog on an EUR till: %v", err)
	}
	if c, err := loadCatalog(p, "s001", "PLN"); err != nil || c.Items["6"].Age != 18 {
		t.Fatalf("the same catalog on a PLN till: %v", err)
	}
	// The demo catalog takes the till's currency, as it takes its store.
	if _, err := loadCatalog("demo", "s001", "CHF"); err != nil {
		t.Fatal(err)
	}
}

func TestLongNoticesGoOnOnTheSecondLine(t *testing.T) {
	got := fitOperator([2]string{"! catalog 4 refused: prices in PLN, this till sells in EUR", "x"}, 40)
	if len([]rune(got[0])) > 40 || !strings.HasPrefix(got[1], "till sells in EUR") || !strings.HasSuffix(got[1], " - x") {
		t.Fatalf("fitted %q", got)
	}
	if l := [2]string{"short", "two"}; fitOperator(l, 40) != l {
		t.Fatal("a line that fits was changed")
	}
}

func TestOrdersReachTheEngineWithTheCatalog(t *testing.T) {
	c := &wire.Catalog{Orders: []wire.Order{{Number: "77", To: "w2", Lines: []wire.OrderLine{{Item: "1", Qty: 5000}, {Item: "2", Qty: 2000}}}}}
	got := fromWire(c).Orders["77"]
	if got.Number != "77" || got.To != "w2" || len(got.Lines) != 2 || got.Lines["1"] != 5000 || got.Lines["2"] != 2000 {
		t.Fatalf("order 77 in the engine's catalog: %+v", got)
	}
	if n := len(fromWire(&wire.Catalog{}).Orders); n != 0 {
		t.Fatalf("%d orders from a catalog without any", n)
	}
}
