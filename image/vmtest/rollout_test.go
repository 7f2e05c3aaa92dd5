package vmtest

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"tillbox/image/bundle"
	"tillbox/uplink/hq"
)

// TestVMRollout: head office rolls a release out to the box under qemu over the network.
// The till fetches the bundle from head office's release server (the host, 10.0.2.2 to
// the guest), installs it, reboots into its try, confirms it, and head office shows the
// rollout complete.
func TestVMRollout(t *testing.T) {
	if os.Getenv("TILLBOX_VMTEST") != "full" {
		t.Skip("set TILLBOX_VMTEST=full (make vmtest)")
	}
	r := newBox(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r.rootfs("1.0.0", initPkg, tillPkg)
	tbx := r.stick(r.rootfs("1.1.0", initPkg, tillPkg), "1.1.0", false)

	docs, err := hq.OpenDocs(ctx, r.store)
	if err != nil {
		t.Fatal(err)
	}
	trusted, err := bundle.ReadPublic(r.pubFile)
	if err != nil {
		t.Fatal(err)
	}
	releases := filepath.Join(r.dir, "releases")
	rel, err := hq.AddRelease(ctx, docs, releases, tbx, "", trusted)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: hq.ReleaseServer{Dir: releases}}
	go srv.Serve(ln)
	defer srv.Close()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	if err := hq.SetGroup(ctx, docs, till, "vm"); err != nil {
		t.Fatal(err)
	}

	started := r.boot("")
	n := r.ready(0, started, "first boot 1.0.0")
	if _, err := hq.CreateRollout(ctx, docs, r.store, hq.RolloutSpec{ID: "vm", Release: rel.Version, Group: "vm",
		Stages: []int{100}, PauseOnFailures: 1, BaseURL: fmt.Sprintf("http://10.0.2.2:%s", port)}); err != nil {
		t.Fatal(err)
	}
	ctl := &hq.RolloutController{Docs: docs, Store: r.store, Options: hq.Options{Broker: r.broker, Prefix: "tillbox/v1"}, Tick: 500 * time.Millisecond}
	go ctl.Run(ctx)

	// Downloaded, checked and installed while the till runs; it exits for the try.
	r.waitOff(300 * time.Second)
	started = r.boot("")
	_, n = r.con.waitText(n, 60*time.Second, "tillbox: booting slot B (try 1)")
	// READY (the till's first prompt) comes before the try's health check confirms it.
	n = r.ready(n, started, "rollout 1.1.0 tried")
	_, n = r.con.waitText(n, 150*time.Second, "slot B confirmed: version 1.1.0")
	r.hqHas("update 1.1.0 confirmed", 60*time.Second)
	for deadline := time.Now().Add(60 * time.Second); ; {
		ro, err := hq.GetRollout(ctx, docs, "vm")
		if err == nil && ro.State == hq.RolloutComplete {
			if s := ro.Summary(); s[0].Confirmed != 1 {
				t.Fatalf("complete with %+v", s)
			}
			t.Logf("rollout complete: %s %s", ro.Tills[0].TillKey, ro.Tills[0].Step)
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("rollout %+v, %v\n%s", ro, err, r.con.tail(30))
		}
		time.Sleep(500 * time.Millisecond)
	}
}
