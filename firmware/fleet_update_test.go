package main

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"tillbox/image/update"
	"tillbox/uplink/wire"
)

// TestFleetUpdateCommand sends the fleet's update command to a running till (the real
// binary, with its embedded HQ's broker) over MQTT. While a sale is open the command is
// refused and nothing is written; once the till is idle the bundle is installed for one try,
// the result is published, the install is journaled, and the till exits with the status
// that asks the stage-1 init to reboot into the try.
func TestFleetUpdateCommand(t *testing.T) {
	bin := buildTillbox(t)
	dir, _, tbx := updateBox(t, "1.1.0")
	data := filepath.Join(dir, "data")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cfg := filepath.Join(dir, "till.json")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`{"data":%q,"uplink":{"broker":"tcp://%s","embedded":true}}`, data, addr)), 0o600)

	events := filepath.Join(dir, "events.jsonl")
	run := func(script string) (*exec.Cmd, chan error) {
		return startScripted(t, bin, script, "--config", cfg, "--layout", filepath.Join(dir, "layout.json"),
			"--events", events, "--log", filepath.Join(dir, "log"))
	}
	results := make(chan wire.CmdResult, 8)
	connect := func() mqtt.Client {
		o := mqtt.NewClientOptions().AddBroker("tcp://" + addr).SetClientID(fmt.Sprintf("fleet-%d", time.Now().UnixNano())).
			SetConnectTimeout(2 * time.Second).SetAutoReconnect(false)
		deadline := time.Now().Add(15 * time.Second)
		for {
			c := mqtt.NewClient(o)
			tok := c.Connect()
			if tok.WaitTimeout(3*time.Second) && tok.Error() == nil {
				sub := c.Subscribe(wire.Topics{}.CmdResult("s001", "t01"), 1, func(_ mqtt.Client, m mqtt.Message) {
					if r, err := wire.DecodeCmdResult(m.Payload()); err == nil {
						results <- r
					}
				})
				if !sub.WaitTimeout(5*time.Second) || sub.Error() != nil {
					t.Fatalf("subscribe: %v", sub.Error())
				}
				// A command reaches a till only once it has subscribed, which its
				// retained status "online" follows; before that the broker drops it.
				online := make(chan struct{}, 1)
				sub = c.Subscribe(wire.Topics{}.Status("s001", "t01"), 1, func(_ mqtt.Client, m mqtt.Message) {
					if st, err := wire.DecodeStatus(m.Payload()); err == nil && st.State == wire.StateOnline {
						select {
						case online <- struct{}{}:
						default:
						}
					}
				})
				if !sub.WaitTimeout(5*time.Second) || sub.Error() != nil {
					t.Fatalf("subscribe: %v", sub.Error())
				}
				select {
				case <-online:
				case <-time.After(30 * time.Second):
					t.Fatal("the till never said it was online")
				}
				return c
			}
			if time.Now().After(deadline) {
				t.Fatalf("the till's broker at %s never answered", addr)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	send := func(c mqtt.Client, id string) wire.CmdResult {
		t.Helper()
		p, err := wire.EncodeCmd(wire.Cmd{ID: id, Name: wire.CmdUpdate, Args: []byte(fmt.Sprintf(`{"file":%q}`, tbx))})
		if err != nil {
			t.Fatal(err)
		}
		if tok := c.Publish(wire.Topics{}.Cmd("s001", "t01"), 1, false, p); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
			t.Fatalf("publish: %v", tok.Error())
		}
		select {
		case r := <-results:
			return r
		case <-time.After(30 * time.Second):
			t.Fatal("no command result within 30s")
		}
		return wire.CmdResult{}
	}

	// A sale is open: the command is refused and the slots are untouched.
	cmd, done := run("signon 1 1234\nscan 5901234123457\nwait 60s\n")
	c := connect()
	// The till may say it is online before the script has opened the sale: wait for the
	// scanned loaf on the customer display.
	for deadline := time.Now().Add(15 * time.Second); ; {
		b, _ := os.ReadFile(events)
		if strings.Contains(string(b), "Brot (Roggen)") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the sale never opened:\n%s", b)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if r := send(c, "u1"); r.OK || !strings.Contains(r.Error, "a sale is open") {
		t.Fatalf("update during a sale: %+v", r)
	}
	if st, _ := (&update.Slots{Env: filepath.Join(dir, "grubenv")}).State(); st.Next != "" || st.Try {
		t.Fatalf("a refused update changed the boot state: %+v", st)
	}
	c.Disconnect(100)
	cmd.Process.Signal(os.Interrupt)
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("the till did not stop on SIGINT")
	}

	// The sale comes back after the restart; once it is voided the till is idle, and the
	// update is installed, answered, journaled, and the till asks for the reboot.
	_, done = run("key MENU 1 ENTER\nwait 60s\n")
	deadline := time.Now().Add(15 * time.Second)
	for {
		b, _ := os.ReadFile(events)
		if strings.Contains(string(b), `"kind":"void"`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the restored sale was never voided:\n%s", b)
		}
		time.Sleep(20 * time.Millisecond)
	}
	c = connect()
	defer c.Disconnect(100)
	r := send(c, "u2")
	if !r.OK || !strings.Contains(string(r.Result), `"slot":"B"`) {
		t.Fatalf("update when idle: %+v", r)
	}
	select {
	case err := <-done:
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != update.ExitRebootForTry {
			t.Fatalf("the till exited with %v, want status %d", err, update.ExitRebootForTry)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the till did not stop for the reboot")
	}
	st, err := (&update.Slots{Env: filepath.Join(dir, "grubenv")}).State()
	if err != nil || st.Next != "B" || !st.Try {
		t.Fatalf("boot state after the update command: %+v, %v", st, err)
	}
	if notes := updateNotes(t, data); len(notes) != 2 || !strings.Contains(notes[0], "refused") || !strings.Contains(notes[1], "1.1.0 installed into slot B") {
		t.Fatalf("update entries journaled: %q", notes)
	}
}
