package journal

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestCanonicalBytesAreTheEncodingWithoutHash(t *testing.T) {
	e := Entry{V: 1, Store: "s1", Till: "t1", Seq: 1, Receipt: "S1-T1-000001", Kind: KindSale,
		At: time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC), Currency: "EUR",
		Lines:   []Line{{Item: "7", Name: "Brötchen", Qty: 2000, Price: 45, Amount: 90, Tax: "B"}},
		Totals:  &Totals{Gross: 90},
		Tenders: []Tender{{Kind: "cash", Amount: 100}}, Prev: GenesisPrev, Hash: "ignored"}
	got, err := e.CanonicalBytes()
	if err != nil {
		t.Fatal(err)
	}
	want := `{"v":1,"store":"s1","till":"t1","seq":1,"receipt":"S1-T1-000001","kind":"sale","at":"2026-11-25T09:00:00Z","currency":"EUR","lines":[{"item":"7","name":"Brötchen","qty":2000,"price":45,"amount":90,"tax":"B"}],"totals":{"gross":90},"tenders":[{"kind":"cash","amount":100}],"prev":"` + GenesisPrev + `"}`
	if string(got) != want {
		t.Fatalf("canonical bytes:\n got %s\nwant %s", got, want)
	}
	e.Hash, _ = e.ComputeHash()
	if err := e.CheckHash(); err != nil {
		t.Fatal(err)
	}
	// What HQ receives decodes and re-hashes to the same value.
	raw, _ := json.Marshal(&e)
	var back Entry
	if err := json.Unmarshal(raw, &back); err != nil {
		t.Fatal(err)
	}
	if err := back.CheckHash(); err != nil {
		t.Fatalf("hash after a round trip: %v", err)
	}
	back.Tenders[0].Amount = 1000
	if err := back.CheckHash(); err == nil || !strings.Contains(err.Error(), "does not match") {
		t.Fatalf("altered tender: %v", err)
	}
}

func TestValidID(t *testing.T) {
	for id, want := range map[string]bool{
		"s042": true, "t-03": true, "a": true, strings.Repeat("a", 32): true,
		"": false, "-t": false, "T03": false, "t 3": false, "t/3": false, strings.Repeat("a", 33): false, "ü": false,
	} {
		if got := ValidID(id); got != want {
			t.Errorf("ValidID(%q) = %v, want %v", id, got, want)
		}
	}
}

func TestReceiptNumber(t *testing.T) {
	if got := ReceiptNumber(DefaultPrefix("s042", "t03"), 123); got != "S042-T03-000123" {
		t.Fatalf("got %q", got)
	}
	if got := ReceiptNumber("S1-T1", 1234567); got != "S1-T1-1234567" {
		t.Fatalf("got %q", got)
	}
	if KindSale.Document() != true || KindPowerUp.Document() || !KindPowerUp.Known() || Kind("x").Known() {
		t.Fatal("kind classification")
	}
}
