package uplink_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"tillbox/uplink/uplinktest"
)

// TestTillhqCommand runs the real binary as a laptop would: in-process broker and bbolt
// store, a till syncing to it, then the fleet, check, receipt and import commands.
func TestTillhqCommand(t *testing.T) {
	bin := buildTillhq(t)
	dir := t.TempDir()
	store := filepath.Join(dir, "hq.db")
	addr := fmt.Sprintf("127.0.0.1:%d", uplinktest.FreePort(t))
	srv := uplinktest.StartProc(t, "tillhq", dir, exec.Command(bin, "serve", "--listen", addr, "--store", store))
	if err := uplinktest.WaitListening(addr, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	l := openLedger(t, t.TempDir(), "t05")
	o := fastOptions("tcp://" + addr)
	c, stop := runTill(t, l, o)
	appendSales(t, l, c, 300)
	waitSynced(t, l, c)

	run := func(args ...string) string {
		t.Helper()
		out, err := exec.Command(bin, args...).CombinedOutput()
		if err != nil {
			t.Fatalf("tillhq %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	if out := run("fleet", "--broker", "tcp://"+addr, "--wait", "3s"); !strings.Contains(out, "s042   t05   online") {
		t.Fatalf("fleet:\n%s", out)
	}
	stop()
	srv.Stop(10 * time.Second) // the bbolt store is the server's until it stops
	if out := run("check", "--store", store); !strings.Contains(out, "s042/t05: 300 entries, chain verified through 300") {
		t.Fatalf("check:\n%s", out)
	}
	out := run("receipt", "--store", store, "S042-T05-000042")
	if !strings.Contains(out, "central S042-C") || !strings.Contains(out, `"seq":42`) {
		t.Fatalf("receipt:\n%s", out)
	}
	central := strings.TrimPrefix(strings.Split(out, "\n")[2], "central ")
	if out := run("receipt", "--store", store, central); !strings.Contains(out, "receipt S042-T05-000042") {
		t.Fatalf("receipt by central %q:\n%s", central, out)
	}
	// The USB-stick path: a till that never had a link exports, HQ imports twice.
	off := openLedger(t, t.TempDir(), "t06")
	appendSales(t, off, nil, 40)
	file := filepath.Join(dir, "t06.jsonl")
	f, err := os.Create(file)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := off.Export(f); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if out := run("import", "--store", store, file); !strings.Contains(out, "40 stored") || !strings.Contains(out, "s042/t06 acknowledged through 40") {
		t.Fatalf("import:\n%s", out)
	}
	if out := run("import", "--store", store, file); !strings.Contains(out, "0 stored, 40 already held") {
		t.Fatalf("import again:\n%s", out)
	}
	if out := run("tills", "--store", store); !strings.Contains(out, "t06   40") {
		t.Fatalf("tills:\n%s", out)
	}
}
