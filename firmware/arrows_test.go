package main

import (
	"encoding/json"
	"fmt"
	"os/exec"
	"strings"
	"testing"
)

// arrow is an import that must never exist: no package in the tree from depends, directly
// or through another package, on a package in the tree to, unless the dependency is in the
// tree of one of except. A tree is a package path and every path below it: "tillbox/drivers"
// is the root package and "tillbox/drivers/printer", never "tillbox/driversx".
type arrow struct {
	from, to string
	except   []string
}

// forbiddenArrows are the arrows DESIGN.md forbids, and the third-party code the pure parts
// may not pull in.
var forbiddenArrows = []arrow{
	{from: "tillbox/drivers", to: "tillbox/ledger"}, {from: "tillbox/drivers", to: "tillbox/uplink"},
	{from: "tillbox/drivers", to: "tillbox/firmware"},
	{from: "tillbox/ledger", to: "tillbox/drivers"}, {from: "tillbox/ledger", to: "tillbox/uplink"},
	{from: "tillbox/ledger", to: "tillbox/firmware"},
	{from: "tillbox/uplink", to: "tillbox/drivers"}, {from: "tillbox/uplink", to: "tillbox/firmware"},
	{from: "tillbox/firmware/till", to: "tillbox/drivers"}, {from: "tillbox/firmware/till", to: "go.etcd.io/bbolt"},
	{from: "tillbox/firmware/till", to: "github.com/eclipse/paho.mqtt.golang"},
	{from: "tillbox/ledger/journal", to: "go.etcd.io/bbolt"}, {from: "tillbox/uplink/wire", to: "go.etcd.io/bbolt"},
	{from: "tillbox/uplink/wire", to: "github.com/eclipse/paho.mqtt.golang"},
	{from: "tillbox/board", to: "tillbox/ledger"}, {from: "tillbox/board", to: "tillbox/uplink"},
	{from: "tillbox/board", to: "tillbox/firmware"},
	// The run loop knows no head office: an embedded one is wired by the tillbox command.
	{from: "tillbox/firmware/app", to: "tillbox/uplink/hq"},
	{from: "tillbox/firmware/app", to: "github.com/jackc/pgx"},
	{from: "tillbox/firmware/app", to: "github.com/mochi-mqtt"},
	{from: "tillbox/firmware/app", to: "html/template"},
	// Head office shares the entry model and chain rules, never the till's bbolt ledger.
	{from: "tillbox/uplink/hq", to: "tillbox/ledger", except: []string{"tillbox/ledger/journal"}},
}

// pkgDeps is a package and everything it depends on, as `go list -deps -json` gives it.
type pkgDeps struct {
	ImportPath string
	Deps       []string
}

// inTree tells whether package p is the package r or below it.
func inTree(p, r string) bool { return p == r || strings.HasPrefix(p, r+"/") }

// arrowViolations lists every dependency of pkgs that one of arrows forbids.
func arrowViolations(pkgs []pkgDeps, arrows []arrow) []string {
	var bad []string
	for _, p := range pkgs {
		for _, a := range arrows {
			if !inTree(p.ImportPath, a.from) {
				continue
			}
		deps:
			for _, d := range p.Deps {
				if !inTree(d, a.to) || inTree(d, a.from) {
					continue
				}
				for _, ok := range a.except {
					if inTree(d, ok) {
						continue deps
					}
				}
				bad = append(bad, fmt.Sprintf("%s depends on %s (%s -> %s is forbidden)", p.ImportPath, d, a.from, a.to))
			}
		}
	}
	return bad
}

// goListDeps lists the packages matching patterns with their dependencies.
func goListDeps(t *testing.T, patterns ...string) []pkgDeps {
	t.Helper()
	out, err := exec.Command("go", append([]string{"list", "-deps", "-json=ImportPath,Deps"}, patterns...)...).Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	var pkgs []pkgDeps
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for dec.More() {
		var p pkgDeps
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		pkgs = append(pkgs, p)
	}
	return pkgs
}

func TestArrowCheckOnSyntheticGraphs(t *testing.T) {
	rules := []arrow{
		{from: "tillbox/drivers", to: "tillbox/ledger"},
		{from: "tillbox/uplink/hq", to: "tillbox/ledger", except: []string{"tillbox/ledger/journal"}},
		{from: "tillbox/firmware/app", to: "html/template"},
	}
	cases := []struct {
		name string
		pkgs []pkgDeps
		want []string // substrings, one per violation, in order; none: clean
	}{
		{"clean graph", []pkgDeps{
			{"tillbox/drivers/printer", []string{"io", "tillbox/drivers"}},
			{"tillbox/uplink/hq", []string{"tillbox/ledger/journal", "go.etcd.io/bbolt"}},
			{"tillbox/firmware/app", []string{"text/template", "tillbox/ledger"}},
		}, nil},
		{"a driver importing the ledger", []pkgDeps{
			{"tillbox/drivers/printer", []string{"tillbox/ledger/journal"}},
		}, []string{"tillbox/drivers/printer depends on tillbox/ledger/journal"}},
		{"the root package of a tree is checked", []pkgDeps{
			{"tillbox/drivers", []string{"errors", "tillbox/ledger"}},
		}, []string{"tillbox/drivers depends on tillbox/ledger "}},
		{"a sibling with a longer name is outside the tree", []pkgDeps{
			{"tillbox/driversx", []string{"tillbox/ledger"}},
			{"tillbox/drivers/scanner", []string{"tillbox/ledgerx"}},
		}, nil},
		{"head office importing the bbolt ledger", []pkgDeps{
			{"tillbox/uplink/hq/cmd/tillhq", []string{"tillbox/ledger/journal", "tillbox/ledger"}},
		}, []string{"tillbox/uplink/hq/cmd/tillhq depends on tillbox/ledger "}},
		{"the run loop pulling in a dashboard template", []pkgDeps{
			{"tillbox/firmware/app", []string{"html/template", "html/template/internal"}},
		}, []string{"depends on html/template ", "depends on html/template/internal"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := arrowViolations(tc.pkgs, rules)
			if len(got) != len(tc.want) {
				t.Fatalf("violations %q, want %d", got, len(tc.want))
			}
			for i, w := range tc.want {
				if !strings.Contains(got[i], w) {
					t.Errorf("violation %q, want it to contain %q", got[i], w)
				}
			}
		})
	}
}

// TestImportArrows keeps the package graph to the design: the arrows listed in
// forbiddenArrows never exist, directly or through another package.
func TestImportArrows(t *testing.T) {
	var pkgs []pkgDeps
	for _, p := range goListDeps(t, "tillbox/...") {
		if inTree(p.ImportPath, "tillbox") {
			pkgs = append(pkgs, p)
		}
	}
	if len(pkgs) < 20 {
		t.Fatalf("only %d tillbox packages listed", len(pkgs))
	}
	for _, v := range arrowViolations(pkgs, forbiddenArrows) {
		t.Error(v)
	}
}

// TestRunLoopCarriesNoHeadOffice: the run loop's dependencies hold neither PostgreSQL's
// driver, nor the in-process broker, nor the dashboard's templates.
func TestRunLoopCarriesNoHeadOffice(t *testing.T) {
	pkgs := goListDeps(t, "tillbox/firmware/app")
	var deps []string
	for _, p := range pkgs {
		deps = append(deps, p.ImportPath)
	}
	if len(deps) < 50 {
		t.Fatalf("only %d packages listed for the run loop", len(deps))
	}
	for _, d := range deps {
		for _, bad := range []string{"github.com/jackc/pgx", "github.com/mochi-mqtt", "html/template", "tillbox/uplink/hq"} {
			if inTree(d, bad) || strings.HasPrefix(d, bad) {
				t.Errorf("firmware/app depends on %s", d)
			}
		}
	}
}
