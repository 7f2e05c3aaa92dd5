package main

import (
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
)

// TestImportArrows keeps the package graph to the design: the arrows listed here never
// exist, directly or through another package.
func TestImportArrows(t *testing.T) {
	forbidden := []struct{ from, to string }{
		{"tillbox/drivers/", "tillbox/ledger"}, {"tillbox/drivers/", "tillbox/uplink"}, {"tillbox/drivers/", "tillbox/firmware"},
		{"tillbox/ledger", "tillbox/drivers/"}, {"tillbox/ledger", "tillbox/uplink"}, {"tillbox/ledger", "tillbox/firmware"},
		{"tillbox/uplink", "tillbox/drivers/"}, {"tillbox/uplink", "tillbox/firmware"},
		{"tillbox/firmware/till", "tillbox/drivers/"}, {"tillbox/firmware/till", "go.etcd.io/bbolt"},
		{"tillbox/firmware/till", "github.com/eclipse/paho.mqtt.golang"},
		{"tillbox/ledger/journal", "go.etcd.io/bbolt"}, {"tillbox/uplink/wire", "go.etcd.io/bbolt"},
		{"tillbox/uplink/wire", "github.com/eclipse/paho.mqtt.golang"},
		{"tillbox/board", "tillbox/ledger"}, {"tillbox/board", "tillbox/uplink"}, {"tillbox/board", "tillbox/firmware"},
	}
	out, err := exec.Command("go", "list", "-deps", "-json=ImportPath,Deps", "tillbox/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	checked := 0
	for dec.More() {
		var p struct {
			ImportPath string
			Deps       []string
		}
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(p.ImportPath, "tillbox/") {
			continue
		}
		checked++
		for _, f := range forbidden {
			if !strings.HasPrefix(p.ImportPath, f.from) {
				continue
			}
			for _, d := range p.Deps {
				if strings.HasPrefix(d, f.to) && !strings.HasPrefix(d, f.from) {
					t.Errorf("%s depends on %s (%s -> %s is forbidden)", p.ImportPath, d, f.from, f.to)
				}
			}
		}
	}
	if checked < 20 {
		t.Fatalf("only %d tillbox packages listed", checked)
	}
}
