package main

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"tillbox/image/bundle"
	"tillbox/uplink/hq"
)

func TestReleaseAndRolloutCommandLines(t *testing.T) {
	for _, c := range []struct {
		args []string
		err  string
	}{
		{[]string{"release"}, "release: add FILE.tbx | list"},
		{[]string{"release", "mint"}, `unknown subcommand "mint"`},
		{[]string{"release", "add", "x.tbx"}, "--release-keys is required"},
		{[]string{"release", "add"}, "give one bundle file"},
		{[]string{"rollout"}, "rollout: create | status"},
		{[]string{"rollout", "create"}, "--release is required"},
		{[]string{"rollout", "create", "--release", "1.0.0", "--stages", "50%"}, "the last stage must be 100%"},
		{[]string{"rollout", "pause"}, "give the rollout id"},
		{[]string{"group"}, "group: set STORE/TILL"},
		{[]string{"group", "set"}, "give STORE/TILL and a group"},
	} {
		code, _, errs := tillhq(c.args...)
		if code != 2 || !strings.Contains(errs, c.err) {
			t.Errorf("tillhq %q: status %d, stderr %q; want 2 and %q", c.args, code, errs, c.err)
		}
	}
}

// TestReleaseAndRolloutOnBolt runs the release, group and rollout commands on a bbolt
// store: what they record and print, and what they refuse.
func TestReleaseAndRolloutOnBolt(t *testing.T) {
	dir := t.TempDir()
	store := filepath.Join(dir, "hq.db")
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	keys := filepath.Join(dir, "update.pub")
	os.WriteFile(keys, bundle.MarshalPublic(pub), 0o644)
	var b bytes.Buffer
	rootfs := bytes.Repeat([]byte("rootfs "), 3000)
	if _, err := bundle.Create(&b, bundle.Manifest{Board: "qemu-virt", Version: "2.1.0"}, bytes.NewReader(rootfs), int64(len(rootfs)), priv); err != nil {
		t.Fatal(err)
	}
	tbx := filepath.Join(dir, "2.1.0.tbx")
	os.WriteFile(tbx, b.Bytes(), 0o644)
	ok := func(args ...string) string {
		t.Helper()
		code, out, errs := tillhq(append(args[:2:2], append([]string{"--store", store}, args[2:]...)...)...)
		if code != 0 {
			t.Fatalf("tillhq %q: status %d\n%s%s", args, code, out, errs)
		}
		return out
	}
	if out := ok("release", "add", "--release-keys", keys, tbx); !strings.Contains(out, "release 2.1.0 for board qemu-virt") || !strings.Contains(out, filepath.Join(dir, "releases")) {
		t.Fatalf("release add: %s", out)
	}
	if out := ok("release", "list"); !hasFields(out, "2.1.0", "qemu-virt") || !strings.Contains(out, "(head office)") {
		t.Fatalf("release list: %s", out)
	}
	ok("group", "set", "s001/t01", "pilot")
	ok("group", "set", "s001/t02", "pilot")
	ok("group", "tag", "s001/t02", "lane-1")
	if out := ok("group", "list"); !strings.Contains(out, "s001/t02  pilot  lane-1") {
		t.Fatalf("group list: %s", out)
	}
	code, _, errs := tillhq("rollout", "create", "--store", store, "--release", "2.1.0", "--group", "pilot")
	if code != 1 || !strings.Contains(errs, "give its address (--release-url)") {
		t.Fatalf("a rollout without the release server's address: %d %s", code, errs)
	}
	out := ok("rollout", "create", "--id", "r7", "--release", "2.1.0", "--group", "pilot", "--stages", "50%,100%", "--release-url", "https://hq.example")
	if !strings.Contains(out, "rollout r7: release 2.1.0 to 2 tills of group pilot in 2 stages") {
		t.Fatalf("rollout create: %s", out)
	}
	var r hq.RolloutView
	if err := json.Unmarshal([]byte(ok("rollout", "status", "--json", "r7")), &r); err != nil {
		t.Fatal(err)
	}
	if r.URL != "https://hq.example/releases/"+r.Release.SHA256+".tbx" || len(r.Summary) != 2 || r.Summary[0].Pending != 1 || r.State != hq.RolloutRunning {
		t.Fatalf("status --json: %+v", r)
	}
	ok("rollout", "pause", "r7")
	if code, _, errs := tillhq("rollout", "pause", "--store", store, "r7"); code != 1 || !strings.Contains(errs, "it is paused") {
		t.Fatalf("pause a paused rollout: %d %s", code, errs)
	}
	ok("rollout", "resume", "r7")
	if out := ok("rollout", "abort", "r7"); !strings.Contains(out, "rollout r7: aborted") {
		t.Fatalf("abort: %s", out)
	}
	if out := ok("rollout", "status", "r7"); !strings.Contains(out, "aborted: aborted by hand") || !hasFields(out, "s001", "t02", "2", "pending") {
		t.Fatalf("status: %s", out)
	}
}

func hasFields(text string, want ...string) bool {
	for _, l := range strings.Split(text, "\n") {
		if f := strings.Fields(l); len(f) >= len(want) && strings.Join(f[:len(want)], " ") == strings.Join(want, " ") {
			return true
		}
	}
	return false
}
