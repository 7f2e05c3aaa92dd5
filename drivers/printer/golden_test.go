package printer_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"tillbox/drivers/printer"
	"tillbox/drivers/printer/printertest"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// golden compares got with testdata/name, or rewrites it under -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (run go test -update after checking the change)\ngot:\n%q\nwant:\n%q", name, got, want)
	}
}

func TestGoldenReceiptBytes(t *testing.T) {
	r, err := printer.Render(referenceReceipt(), &printer.DefaultProfile)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Missing) != 0 {
		t.Errorf("reference receipt has runes no page prints: %q", r.Missing)
	}
	golden(t, "receipt.escpos", r.Bytes())
}

// TestGoldenReceiptDecodes reads the golden bytes (not a fresh render) back through the
// fake, so the pinned bytes are shown to print the intended text.
func TestGoldenReceiptDecodes(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("testdata", "receipt.escpos"))
	if err != nil {
		t.Fatal(err)
	}
	items, unknown := printertest.Decode(b)
	if len(unknown) != 0 {
		t.Errorf("unknown commands in the golden bytes: %v", unknown)
	}
	var tr bytes.Buffer
	for _, it := range items {
		tr.WriteString(it.String() + "\n")
	}
	golden(t, "receipt.transcript", tr.Bytes())
	want := `TILLBOX DEMO
Sklep 042 · Kasa 03
S042-T03-000123
[feed 1]
Żółć gęślą jaźń 1 szt.                   12,50 €
Şişli çığ köfte İğne                      8,00 €
Größe Äpfel für Straße                    3,99 €
Rabatt: -1,00 €
SUMME                                    23,49 €
[feed 1]
[EAN13 5901234123457]
[QR https://example.com/r/S042-T03-000123]
Dziękujemy · Teşekkürler · Danke
[cut partial]
[kick pin 2]
`
	if got := printertest.Text(items); got != want {
		t.Errorf("decoded text:\n%s\nwant:\n%s", got, want)
	}
}

func TestDocSurvivesJSONAndRendersTheSame(t *testing.T) {
	doc := referenceReceipt()
	b, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	var back printer.Doc
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	r1, _ := printer.Render(doc, &printer.DefaultProfile)
	r2, err := printer.Render(&back, &printer.DefaultProfile)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(r1.Bytes(), r2.Bytes()) || !doc.Equal(&back) {
		t.Errorf("document changed through JSON: %s", b)
	}
}
