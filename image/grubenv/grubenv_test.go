package grubenv

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRoundTripInPlace(t *testing.T) {
	p := filepath.Join(t.TempDir(), "grubenv")
	if err := Create(p, Env{"tillbox_active": "A"}); err != nil {
		t.Fatal(err)
	}
	if err := Write(p, Env{"tillbox_active": "B", "tillbox_try": "1"}); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(p)
	if len(b) != Size || !strings.HasPrefix(string(b), header) || b[Size-1] != '#' {
		t.Fatalf("block: %d bytes %q...", len(b), b[:40])
	}
	e, err := Read(p)
	if err != nil {
		t.Fatal(err)
	}
	if e["tillbox_active"] != "B" || e["tillbox_try"] != "1" || len(e) != 2 {
		t.Fatalf("env %v", e)
	}
}

func TestRefusals(t *testing.T) {
	if _, err := Encode(Env{"k": strings.Repeat("x", Size)}); !errors.Is(err, ErrTooLarge) {
		t.Errorf("too large: %v", err)
	}
	if _, err := Encode(Env{"a=b": "c"}); err == nil {
		t.Error("key with '=' accepted")
	}
	if _, err := Decode([]byte("hello")); !errors.Is(err, ErrFormat) {
		t.Errorf("not a block: %v", err)
	}
	p := filepath.Join(t.TempDir(), "short")
	os.WriteFile(p, []byte(header), 0o644)
	if err := Write(p, Env{}); !errors.Is(err, ErrFormat) {
		t.Errorf("short file rewritten: %v", err)
	}
}
