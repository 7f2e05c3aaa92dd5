package techpage

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
)

func TestTheTokenIsMadeOnceKeptPrivateAndReplacedOnlyWhenAsked(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	tok, err := LoadToken(data)
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^[a-z2-7]{4}-[a-z2-7]{4}-[a-z2-7]{4}-[a-z2-7]{4}$`).MatchString(tok) {
		t.Fatalf("token %q", tok)
	}
	path := filepath.Join(data, TokenFile)
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("token file: %v %v", fi.Mode(), err)
	}
	again, err := LoadToken(data)
	if err != nil || again != tok {
		t.Fatalf("second load: %q %v, want %q", again, err, tok)
	}
	// Two tills starting on one data directory at once agree on one token.
	other := t.TempDir()
	var wg sync.WaitGroup
	got := make([]string, 8)
	for i := range got {
		wg.Add(1)
		go func() { defer wg.Done(); got[i], _ = LoadToken(other) }()
	}
	wg.Wait()
	for _, g := range got {
		if g == "" || g != got[0] {
			t.Fatalf("concurrent first loads: %q", got)
		}
	}
	// A file opened up to others is closed again.
	os.Chmod(path, 0o644)
	if again, err := LoadToken(data); err != nil || again != tok {
		t.Fatalf("load of a 0644 file: %q %v", again, err)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode after load %v", fi.Mode())
	}
	renewed, err := NewToken(data)
	if err != nil || renewed == tok || !validToken(renewed) {
		t.Fatalf("new token %q %v (old %q)", renewed, err, tok)
	}
	if again, _ := LoadToken(data); again != renewed {
		t.Fatalf("after NewToken the file holds %q", again)
	}
	// A damaged file is an error that names it, and it is left as it was.
	os.WriteFile(path, []byte("hunter2\n"), 0o600)
	if _, err := LoadToken(data); err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "holds no token") {
		t.Fatalf("damaged file: %v", err)
	}
	if b, _ := os.ReadFile(path); string(b) != "hunter2\n" {
		t.Fatalf("damaged file rewritten: %q", b)
	}
	for typed, want := range map[string]bool{
		strings.ToUpper(renewed): true, strings.ReplaceAll(renewed, "-", ""): true, strings.ReplaceAll(renewed, "-", " "): true,
		renewed[:18]: false, renewed + "a": false, "": false,
	} {
		if sameToken(typed, renewed) != want {
			t.Errorf("sameToken(%q) != %v", typed, want)
		}
	}
}

func TestTheLogRingKeepsTheLastLinesAndPassesEveryRecordOn(t *testing.T) {
	var inner bytes.Buffer
	ring := NewLogRing(3)
	log := slog.New(ring.Handler(slog.NewTextHandler(&inner, &slog.HandlerOptions{Level: slog.LevelDebug})))
	log.Debug("below the ring's level")
	up := log.With("part", "uplink").WithGroup("conn")
	for i, msg := range []string{"one", "two", "three", "four", "five"} {
		up.Info(msg, "n", i)
	}
	log.Warn("multi\nline")
	lines := ring.Lines()
	if len(lines) != 3 {
		t.Fatalf("lines %q", lines)
	}
	for i, want := range []string{`msg=four part=uplink conn.n=3`, `msg=five part=uplink conn.n=4`, `level=WARN msg="multi\nline"`} {
		if !strings.Contains(lines[i], want) {
			t.Errorf("line %d %q lacks %q", i, lines[i], want)
		}
	}
	if n := strings.Count(inner.String(), "\n"); n != 7 || !strings.Contains(inner.String(), "below the ring's level") {
		t.Fatalf("inner handler got %d lines:\n%s", n, inner.String())
	}
	ring.Write([]byte(strings.Repeat("x", 5000) + "\n"))
	if l := ring.Lines()[2]; len(l) > maxLogLine+4 || !strings.HasSuffix(l, "…") {
		t.Fatalf("long line kept as %d bytes", len(l))
	}
}

func TestTheEventTapPassesEventsOnAndKeepsTheUplinkState(t *testing.T) {
	var out bytes.Buffer
	tap := NewEventTap(&out)
	if known, _, _ := tap.Uplink(); known {
		t.Fatal("uplink known before any event")
	}
	lines := []string{`{"t":"uplink","online":true,"watermark":3}`, `{"t":"commit","seq":4}`, `not json`, `{"t":"uplink","online":false,"watermark":4}`}
	for _, l := range lines {
		tap.Write([]byte(l + "\n"))
	}
	if out.String() != strings.Join(lines, "\n")+"\n" {
		t.Fatalf("passed on %q", out.String())
	}
	if known, online, _ := tap.Uplink(); !known || online {
		t.Fatalf("uplink known %v online %v", known, online)
	}
	for i := 0; i < 2*recentEvents; i++ {
		tap.Write([]byte(`{"t":"printed","job":1}` + "\n"))
	}
	if r := tap.Recent(); len(r) != recentEvents || r[0].Kind != "printed" {
		t.Fatalf("recent %d, first %+v", len(r), r[0])
	}
}

// The templates are parsed at the first page served; they must parse, and the two the
// handlers render must be there by name.
func TestTemplatesParse(t *testing.T) {
	p := pages()
	for _, name := range []string{"page.html", "signin.html"} {
		if p.Lookup(name) == nil {
			t.Errorf("template %s missing: %s", name, p.DefinedTemplates())
		}
	}
}
