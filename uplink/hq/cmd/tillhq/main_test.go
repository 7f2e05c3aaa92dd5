package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"tillbox/uplink/hq"
	"tillbox/uplink/identity"
)

// tillhq runs the command in-process and returns its exit status and output.
func tillhq(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := run(args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestRunCommandLines(t *testing.T) {
	for _, c := range []struct {
		args      []string
		code      int
		out, err  string // substrings of stdout and stderr
		notStderr bool   // stderr must be empty
	}{
		{nil, 2, "", "usage: tillhq COMMAND", false},
		{[]string{"no-such"}, 2, "", `unknown command "no-such"`, false},
		{[]string{"--help"}, 0, "usage: tillhq COMMAND", "", true},
		{[]string{"help"}, 0, "check       verify", "", true},
		{[]string{"version"}, 0, "tillhq dev", "", true},
		{[]string{"check", "--help"}, 0, "", "-json", false},
		{[]string{"cmd", "-h"}, 0, "", "-sign-key", false},
		{[]string{"ca", "--help"}, 0, "", "-ca string", false},
		{[]string{"tills", "--no-such-flag"}, 2, "", "flag provided but not defined: -no-such-flag", false},
		{[]string{"fleet", "--wait", "soon"}, 2, "", `invalid value "soon"`, false},
		{[]string{"cmd", "s042", "t01"}, 2, "", "tillhq: cmd: give STORE TILL NAME [ARGS-JSON]", false},
		{[]string{"cmd", "s042", "t01", "status"}, 2, "", "tillhq: cmd: --broker is required", false},
		{[]string{"fleet"}, 2, "", "--broker is required", false},
		{[]string{"receipt"}, 2, "", "give one receipt or central number", false},
		{[]string{"import"}, 2, "", "give the exported files", false},
		{[]string{"tills", "extra"}, 2, "", "takes no arguments", false},
		{[]string{"projection"}, 2, "", "usage: tillhq projection rebuild", false},
		{[]string{"projection", "redo"}, 2, "", "usage: tillhq projection rebuild", false},
		{[]string{"ca"}, 2, "", "ca: want init", false},
		{[]string{"ca", "mint"}, 2, "", `unknown subcommand "mint"`, false},
		{[]string{"register", "s042"}, 2, "", "give STORE TILL KEY", false},
		{[]string{"fleet", "--broker", "tcp://127.0.0.1:1", "--tls-ca", "ca.crt"}, 2, "", "--tls-ca, --tls-cert and --tls-key go together", false},
		// Unsigned only when told so, and the dashboard behind a credential.
		{[]string{"serve", "--store", "/nonexistent/hq.db"}, 2, "", "serve: refusing to run unsigned: give --keys DIR", false},
		{[]string{"serve", "--store", "/nonexistent/hq.db", "--keys", "keys"}, 2, "", "refusing to run unsigned", false},
		{[]string{"serve", "--store", "/nonexistent/hq.db", "--sign-key", "/nonexistent/hq-sign.key", "--insecure", "--http", ":0"}, 1, "", "signing key", false},
		{[]string{"serve", "--keys", "k", "--sign-key", "s", "--http", ":0"}, 2, "", "--http needs --dashboard-auth FILE", false},
		{[]string{"serve", "--insecure", "--http-cert", "c.pem"}, 2, "", "--http-cert and --http-key go together", false},
		{[]string{"serve", "--insecure", "--alert-disk-low", "lots"}, 2, "", "want a size such as 100MB", false},
		{[]string{"events", "--till", "S042/T01"}, 2, "", "want STORE/TILL or STORE", false},
		{[]string{"events", "--since", "yesterday"}, 2, "", "want RFC 3339", false},
		{[]string{"passwd"}, 2, "", "give the user's name", false},
		{[]string{"passwd", "a:b"}, 2, "", "no colon or space", false},
		{[]string{"ca", "revoke", "--ca", "/nonexistent"}, 2, "", "give the certificate to revoke, or --till STORE/TILL", false},
		// A command line that runs and fails is status 1.
		{[]string{"tills", "--store", "ftp://nowhere"}, 1, "", "tillhq: ", false},
		{[]string{"catalog", "--broker", "tcp://127.0.0.1:1", "/nonexistent.json"}, 1, "", "hq: catalog: ", false},
	} {
		code, out, errs := tillhq(c.args...)
		if code != c.code || !strings.Contains(out, c.out) || !strings.Contains(errs, c.err) || c.notStderr && errs != "" {
			t.Errorf("tillhq %q: status %d, want %d\nstdout: %s\nstderr: %s", c.args, code, c.code, out, errs)
		}
	}
}

// TestTillsAndCheckJSON: tills and check print one JSON object per till, with the same
// figures as their tables, from a real store.
func TestTillsAndCheckJSON(t *testing.T) {
	dir := t.TempDir()
	store := filepath.Join(dir, "hq.db")
	var files []string
	for till, n := range map[string]int{"t01": 12, "t02": 3} {
		l := openLedgerIn(t, "s042", till)
		appendSales(t, l, nil, n)
		files = append(files, exportTo(t, l, filepath.Join(dir, till+".jsonl")))
	}
	if code, out, errs := tillhq(append([]string{"import", "--store", store}, files...)...); code != 0 {
		t.Fatalf("import: %d\n%s%s", code, out, errs)
	}
	lines := func(args ...string) []map[string]any {
		t.Helper()
		code, out, errs := tillhq(args...)
		if code != 0 {
			t.Fatalf("tillhq %q: %d\n%s%s", args, code, out, errs)
		}
		var rows []map[string]any
		for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
			var m map[string]any
			if err := json.Unmarshal([]byte(line), &m); err != nil {
				t.Fatalf("tillhq %q: line %q: %v", args, line, err)
			}
			rows = append(rows, m)
		}
		return rows
	}
	want := []struct {
		till string
		n    float64
	}{{"t01", 12}, {"t02", 3}}
	rows := lines("tills", "--store", store, "--json")
	checks := lines("check", "--store", store, "--json")
	if len(rows) != len(want) || len(checks) != len(want) {
		t.Fatalf("tills --json %v, check --json %v: want %d tills each", rows, checks, len(want))
	}
	for i, w := range want {
		if r := rows[i]; r["store"] != "s042" || r["till"] != w.till || r["through"] != w.n || r["hash"] == "" {
			t.Errorf("tills --json row %d: %v, want s042/%s through %v", i, r, w.till, w.n)
		}
		if c := checks[i]; c["store"] != "s042" || c["till"] != w.till || c["through"] != w.n || c["entries"] != w.n || c["error"] != nil {
			t.Errorf("check --json row %d: %v, want s042/%s through and entries %v, no error", i, c, w.till, w.n)
		}
	}
	// The tables say the same.
	if _, out, _ := tillhq("check", "--store", store); !strings.Contains(out, "s042/t01: 12 entries, chain verified through 12") {
		t.Errorf("check:\n%s", out)
	}
	st, err := hq.OpenBolt(store)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	checked, err := hq.CheckAll(t.Context(), st)
	if err != nil || len(checked) != 2 || checked[1].Entries != 3 {
		t.Fatalf("CheckAll: %+v, %v", checked, err)
	}
}

// TestCAInventoryCommands: ca sign refuses a second identity for a till, --replace
// revokes the first, revoke --till revokes by name, ca list shows it all.
func TestCAInventoryCommands(t *testing.T) {
	dir := t.TempDir()
	ca := filepath.Join(dir, "ca")
	if code, _, errs := tillhq("ca", "init", "--ca", ca); code != 0 {
		t.Fatalf("ca init: %s", errs)
	}
	csr := func() string {
		p, err := identity.Provision(filepath.Join(t.TempDir(), "keys"), "s042", "t01", nil)
		if err != nil {
			t.Fatal(err)
		}
		return p.CSR
	}
	code, first, errs := tillhq("ca", "sign", "--ca", ca, "--days", "30", csr())
	if code != 0 || !strings.Contains(first, "BEGIN CERTIFICATE") {
		t.Fatalf("ca sign: %d %s", code, errs)
	}
	if code, out, errs := tillhq("ca", "sign", "--ca", ca, csr()); code != 1 || !strings.Contains(errs, "already provisioned") || out != "" {
		t.Errorf("second identity: %d %q %s", code, out, errs)
	}
	if code, _, errs := tillhq("ca", "sign", "--ca", ca, "--replace", csr()); code != 0 {
		t.Errorf("--replace: %d %s", code, errs)
	}
	_, list, _ := tillhq("ca", "list", "--ca", ca)
	if strings.Count(list, "s042/t01") != 2 || strings.Count(list, "revoked") != 1 || !strings.Contains(list, "current") {
		t.Errorf("ca list after --replace:\n%s", list)
	}
	if code, out, errs := tillhq("ca", "revoke", "--ca", ca, "--till", "s042/t01"); code != 0 || !strings.Contains(out, "s042/t01: certificate ") {
		t.Errorf("revoke --till: %d %s %s", code, out, errs)
	}
	if code, _, errs := tillhq("ca", "revoke", "--ca", ca, "--till", "s042/t01"); code != 1 || !strings.Contains(errs, "refused") {
		t.Errorf("revoke --till again: %d %s", code, errs)
	}
	_, list, _ = tillhq("ca", "list", "--ca", ca)
	if strings.Count(list, "revoked") != 2 {
		t.Errorf("ca list after revoke:\n%s", list)
	}
	if code, _, errs := tillhq("ca", "sign", "--ca", ca, "--days", "0", csr()); code != 2 || !strings.Contains(errs, "--days") {
		t.Errorf("--days 0: %d %s", code, errs)
	}
}

// TestPasswdLine: passwd prints a line the dashboard accepts, never the secret.
func TestPasswdLine(t *testing.T) {
	var out, errb bytes.Buffer
	e := &env{stdout: &out, stderr: &errb}
	if err := passwdFrom(strings.NewReader("a long enough secret\n"), e, []string{"ops"}); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out.String(), "secret") {
		t.Fatalf("the line shows the secret: %s", out.String())
	}
	a, err := hq.ParseWebAuth(out.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	r, _ := http.NewRequest("GET", "/", nil)
	r.SetBasicAuth("ops", "a long enough secret")
	if !a.Allowed(r) {
		t.Error("the line does not accept its secret")
	}
	if err := passwdFrom(strings.NewReader("short\n"), e, []string{"ops"}); err == nil {
		t.Error("a short secret was taken")
	}
}
