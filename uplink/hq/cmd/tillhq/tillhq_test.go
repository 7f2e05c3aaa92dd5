package main

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"tillbox/uplink/identity"
	"tillbox/uplink/rig"
	"tillbox/uplink/wire"
)

// TestTillhqCommand runs the real binary as a laptop would: in-process broker and bbolt
// store, a till syncing to it, then the fleet, check, receipt and import commands.
func TestTillhqCommand(t *testing.T) {
	bin := buildTillhq(t)
	dir := t.TempDir()
	store := filepath.Join(dir, "hq.db")
	addr := fmt.Sprintf("127.0.0.1:%d", rig.FreePort(t))
	srv := rig.StartProc(t, "tillhq", dir, exec.Command(bin, "serve", "--insecure", "--listen", addr, "--store", store))
	if err := rig.WaitListening(addr, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	l := openLedgerIn(t, "s042", "t05")
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
	off := openLedgerIn(t, "s042", "t06")
	appendSales(t, off, nil, 40)
	file := exportTo(t, off, filepath.Join(dir, "t06.jsonl"))
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

// TestTillhqSignsWhatItSends runs the real binary with HQ's signing key: a till that
// knows HQ's key syncs through serve's signed acks and runs a command from tillhq cmd;
// without --sign-key serve's acks are refused and the backlog stays.
func TestTillhqSignsWhatItSends(t *testing.T) {
	bin := buildTillhq(t)
	dir := t.TempDir()
	caDir := filepath.Join(dir, "ca")
	if out, err := exec.Command(bin, "ca", "init", "--ca", caDir).CombinedOutput(); err != nil {
		t.Fatalf("tillhq ca init: %v\n%s", err, out)
	}
	ca, err := identity.OpenCA(caDir)
	if err != nil {
		t.Fatal(err)
	}
	signKey := filepath.Join(caDir, identity.SigningKeyFile)
	store := filepath.Join(dir, "hq.db")
	serve := func(name string, args ...string) (*rig.Proc, string) {
		addr := fmt.Sprintf("127.0.0.1:%d", rig.FreePort(t))
		p := rig.StartProc(t, name, dir, exec.Command(bin, append([]string{"serve", "--insecure", "--listen", addr, "--store", store}, args...)...))
		if err := rig.WaitListening(addr, 10*time.Second); err != nil {
			t.Fatal(err)
		}
		return p, addr
	}

	unsigned, addr := serve("tillhq-unsigned")
	l := openLedgerIn(t, "s042", "t05")
	o := fastOptions("tcp://" + addr)
	o.HQKey = hqPublic(t, ca)
	c, stop := runTill(t, l, o)
	appendSales(t, l, c, 50)
	if e := nextEvent(t, c, wire.EventAckRefused); !strings.Contains(e.Detail, "not signed") {
		t.Errorf("serve without --sign-key: refusal %q", e.Detail)
	}
	stop()
	unsigned.Stop(10 * time.Second)
	if w, _ := l.Watermark(); w != 0 {
		t.Fatalf("watermark %d on unsigned acks, want 0", w)
	}

	srv, addr := serve("tillhq-signing", "--sign-key", signKey)
	o.Broker = "tcp://" + addr
	c, stop = runTill(t, l, o)
	waitSynced(t, l, c)
	out, err := exec.Command(bin, "cmd", "--broker", "tcp://"+addr, "--sign-key", signKey, "--wait", "20s", "s042", "t05", wire.CmdStatus).CombinedOutput()
	if err != nil || !strings.Contains(string(out), `"ok":true`) {
		t.Fatalf("tillhq cmd --sign-key: %v\n%s", err, out)
	}
	out, err = exec.Command(bin, "cmd", "--broker", "tcp://"+addr, "--wait", "3s", "s042", "t05", wire.CmdStatus).CombinedOutput()
	if err == nil {
		t.Fatalf("an unsigned command was answered:\n%s", out)
	}
	stop()
	srv.Stop(10 * time.Second)
	if out, err := exec.Command(bin, "check", "--store", store).CombinedOutput(); err != nil || !strings.Contains(string(out), "s042/t05: 50 entries, chain verified through 50") {
		t.Fatalf("check: %v\n%s", err, out)
	}
}
