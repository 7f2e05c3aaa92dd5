package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"tillbox/firmware/techpage"
)

// TestTheTechnicianTokenOnTheOperatorDisplay: on the real till, a supervisor's MENU 15 puts
// the page's address and its token, as FormatToken writes it, on the operator display; a
// cashier asking gets the supervisor prompt, and the token is not shown.
func TestTheTechnicianTokenOnTheOperatorDisplay(t *testing.T) {
	bin := buildTillbox(t)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "till.json")
	os.WriteFile(cfg, []byte(`{"data":"`+filepath.Join(dir, "data")+`","uplink":{"broker":"","embedded":false},"technician":{"listen":"127.0.0.1:0"}}`), 0o600)
	events := filepath.Join(dir, "events.jsonl")
	script := "signon 1 1234\nkey MENU\ntype 15\nkey ENTER CLEAR SIGN_ON_OFF\nsignon 9 9999\nkey MENU\ntype 15\nkey ENTER\n"
	_, done := startScripted(t, bin, script, "--config", cfg, "--events", events, "--log", filepath.Join(dir, "log"))
	if err := <-done; err != nil {
		t.Fatalf("till: %v", err)
	}
	b, _ := os.ReadFile(events)
	var listen, token string
	var shown [][2]string
	for _, l := range strings.Split(string(b), "\n") {
		var e struct {
			T, Listen, Token string
			Lines            [2]string
		}
		if json.Unmarshal([]byte(l), &e) != nil {
			continue
		}
		switch e.T {
		case "techpage":
			listen, token = e.Listen, e.Token
		case "operator":
			shown = append(shown, e.Lines)
		}
	}
	if listen == "" || token == "" {
		t.Fatalf("no techpage event:\n%s", b)
	}
	want := [2]string{"page http://" + listen + "/", techpage.FormatToken(token)}
	if len(want[1]) != 19 {
		t.Fatalf("token %q as shown: %q", token, want[1])
	}
	var at []int
	for i, l := range shown {
		if l == want {
			at = append(at, i)
		}
		if strings.Contains(l[0]+l[1], want[1]) && l != want {
			t.Errorf("the token shown as %q", l)
		}
	}
	// Once: for the supervisor, not for the cashier (who got the supervisor's prompt).
	if len(at) != 1 {
		t.Fatalf("the page's lines %q shown %d times in:\n%q", want, len(at), shown)
	}
	sawPrompt := false
	for _, l := range shown[:at[0]] {
		sawPrompt = sawPrompt || strings.Contains(l[0], "SUPERVISOR")
	}
	if !sawPrompt {
		t.Errorf("the cashier was not asked for a supervisor: %q", shown[:at[0]])
	}
}
