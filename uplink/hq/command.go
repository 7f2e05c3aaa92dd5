package hq

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"tillbox/ledger/journal"
	"tillbox/uplink/mqttconn"
	"tillbox/uplink/wire"
)

// DefaultCommandTTL is how long a signed command stays valid when Command.Expires is
// zero. A till's clock may be off, so it is generous.
const DefaultCommandTTL = time.Hour

// Command is one command for one till.
type Command struct {
	Store, Till string
	Name        string          // wire.CmdStatus, wire.CmdSyncNow, ...
	Args        json.RawMessage // nil: none; otherwise valid JSON
	// ID makes the command idempotent: the till answers a repeated id with the result it
	// remembered and does not run it again. Empty: a random id.
	ID string
	// Expires is when a signed command stops being valid. Zero: DefaultCommandTTL from now.
	Expires time.Time
}

// SendCommand sends c to its till, signed with o.SignKey when that is set (a till
// provisioned with HQ's key refuses it otherwise), and waits until ctx is done for the
// till's result. It subscribes to the result before it publishes, so an answer cannot be
// missed. A result that is not OK is returned with an error wrapping ErrRefused; no result
// before ctx is done gives ctx's error (the till may be offline, or refused the command
// without answering: see its events).
func SendCommand(ctx context.Context, o Options, c Command) (wire.CmdResult, error) {
	cmd, err := c.encode(o)
	if err != nil {
		return wire.CmdResult{}, err
	}
	p, err := wire.EncodeCmd(cmd)
	if err != nil {
		return wire.CmdResult{}, fmt.Errorf("hq: cmd %s: %w", cmd.ID, err)
	}
	role := "cmd " + cmd.ID
	cli, err := o.connect(mqttconn.Brief, "cmd", nil)
	if err != nil {
		return wire.CmdResult{}, err
	}
	defer cli.Disconnect(250)
	topics := wire.Topics{Prefix: o.Prefix}
	got := make(chan wire.CmdResult, 1)
	sub := cli.Subscribe(topics.CmdResult(c.Store, c.Till), 1, func(_ mqtt.Client, m mqtt.Message) {
		if r, err := wire.DecodeCmdResult(m.Payload()); err == nil && r.ID == cmd.ID {
			select {
			case got <- r:
			default:
			}
		}
	})
	if err := o.wait(sub, role, "subscribe"); err != nil {
		return wire.CmdResult{}, err
	}
	if err := o.wait(cli.Publish(topics.Cmd(c.Store, c.Till), 1, false, p), role, "publish"); err != nil {
		return wire.CmdResult{}, err
	}
	select {
	case r := <-got:
		if !r.OK {
			return r, fmt.Errorf("hq: %s: %w: %s", role, ErrRefused, r.Error)
		}
		return r, nil
	case <-ctx.Done():
		return wire.CmdResult{}, fmt.Errorf("hq: %s: no result (the till may be offline, or refused it: see its events): %w", role, ctx.Err())
	}
}

// encode checks c and makes its wire form, signed when o has HQ's key.
func (c Command) encode(o Options) (wire.Cmd, error) {
	cmd := wire.Cmd{ID: c.ID, Name: c.Name, Args: c.Args}
	if cmd.ID == "" {
		b := make([]byte, 8)
		rand.Read(b)
		cmd.ID = hex.EncodeToString(b)
	}
	bad := func(format string, a ...any) error {
		return fmt.Errorf("hq: cmd %s: %w: %s", cmd.ID, wire.ErrInvalid, fmt.Sprintf(format, a...))
	}
	switch {
	case !journal.ValidID(c.Store) || !journal.ValidID(c.Till):
		return wire.Cmd{}, bad("store %q, till %q", c.Store, c.Till)
	case c.Name == "":
		return wire.Cmd{}, bad("no command name")
	case len(cmd.ID) > wire.MaxCmdID:
		return wire.Cmd{}, bad("id longer than %d", wire.MaxCmdID)
	case c.Args != nil && !json.Valid(c.Args):
		return wire.Cmd{}, bad("args are not JSON")
	}
	if o.SignKey != nil {
		exp := c.Expires
		if exp.IsZero() {
			exp = time.Now().Add(DefaultCommandTTL)
		}
		if err := wire.SignCmd(o.SignKey, &cmd, c.Store, c.Till, exp); err != nil {
			return wire.Cmd{}, fmt.Errorf("hq: cmd %s: %w", cmd.ID, err)
		}
	}
	return cmd, nil
}
