package main

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"tillbox/image/update"
	"tillbox/uplink/wire"
)

// TestTheStatusCarriesTheBootedSlot: a till started on a box's layout (booted from slot B)
// publishes a status that names the slot, which is what head office's inventory keeps.
func TestTheStatusCarriesTheBootedSlot(t *testing.T) {
	bin := buildTillbox(t)
	dir, _, _ := updateBox(t, "1.1.0")
	layout := filepath.Join(dir, "layout.json")
	l, err := update.ReadLayout(layout)
	if err != nil {
		t.Fatal(err)
	}
	l.Booted = update.SlotB
	if err := update.WriteLayout(layout, l); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cfg := filepath.Join(dir, "till.json")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`{"data":%q,"uplink":{"broker":"tcp://%s","embedded":true}}`, filepath.Join(dir, "data"), addr)), 0o600)
	startScripted(t, bin, "wait 60s\n", "--config", cfg, "--layout", layout, "--log", filepath.Join(dir, "log"))

	statuses := make(chan wire.Status, 16)
	o := mqtt.NewClientOptions().AddBroker("tcp://" + addr).SetClientID("inventory").
		SetConnectTimeout(2 * time.Second).SetAutoReconnect(false)
	var c mqtt.Client
	for deadline := time.Now().Add(15 * time.Second); ; {
		c = mqtt.NewClient(o)
		if tok := c.Connect(); tok.WaitTimeout(3*time.Second) && tok.Error() == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the till's broker at %s never answered", addr)
		}
		time.Sleep(100 * time.Millisecond)
	}
	defer c.Disconnect(100)
	sub := c.Subscribe(wire.Topics{}.Status("s001", "t01"), 1, func(_ mqtt.Client, m mqtt.Message) {
		if st, err := wire.DecodeStatus(m.Payload()); err == nil {
			statuses <- st
		}
	})
	if !sub.WaitTimeout(5*time.Second) || sub.Error() != nil {
		t.Fatalf("subscribe: %v", sub.Error())
	}
	timeout := time.After(30 * time.Second)
	for {
		select {
		case st := <-statuses:
			if st.State != wire.StateOnline {
				continue
			}
			if st.Slot != "b" || st.Version == "" {
				t.Fatalf("online status: slot %q, version %q; want slot b", st.Slot, st.Version)
			}
			return
		case <-timeout:
			t.Fatal("the till never published an online status")
		}
	}
}
