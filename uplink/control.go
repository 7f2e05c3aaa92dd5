package uplink

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"sort"
	"syscall"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"tillbox/ledger"
	"tillbox/ledger/journal"
	"tillbox/uplink/wire"
)

// status builds the retained status from the ledger, the disk and the firmware's Info.
func (c *Client) status(state string) (wire.Status, error) {
	st, err := c.l.Stats()
	if err != nil {
		return wire.Status{}, fmt.Errorf("uplink: status: %w", err)
	}
	now := c.o.Clock().UTC()
	info := c.o.Info()
	s := wire.Status{
		State: state, At: &now, Version: info.Version, Slot: info.Slot, Board: info.Board, Devices: info.Devices,
		LastSeq: st.LastSeq, Watermark: st.Watermark, Backlog: st.Backlog,
		LedgerBytes: st.FileBytes, FreeDiskBytes: freeDisk(filepath.Dir(c.l.Path())),
	}
	if !st.OldestUnsynced.IsZero() {
		t := st.OldestUnsynced.UTC()
		s.OldestUnsynced = &t
	}
	if cat := c.catalog.Load(); cat != nil {
		s.Catalog = cat.Version
	}
	if t, err := c.lastSale(st.LastSeq); err != nil {
		return wire.Status{}, fmt.Errorf("uplink: status: %w", err)
	} else if !t.IsZero() {
		t = t.UTC()
		s.LastSale = &t
	}
	return s, nil
}

// saleWindow is how many entries one backward step of the first last-sale search reads
// (and decodes): a till's last entries are mostly sales, so the first step finds one,
// and a till with a backlog does not decode the whole of it to publish its first status.
const saleWindow = 16

// lastSale is the At of the last sale in the ledger up to seq last. The first call searches
// backwards from the end in windows (a till that has sold today finds it in the first
// one); later calls read only the entries added since.
func (c *Client) lastSale(last uint64) (time.Time, error) {
	c.saleMu.Lock()
	defer c.saleMu.Unlock()
	scan := func(after uint64, limit int) (found bool, err error) {
		err = c.l.After(after, limit, func(e *journal.Entry, _ []byte) bool {
			if e.Kind == journal.KindSale && e.At.After(c.saleAt) {
				c.saleAt, found = e.At, true
			}
			return true
		})
		return found, err
	}
	if !c.saleScanned {
		for end := last; end > 0; {
			start := uint64(0)
			if end > saleWindow {
				start = end - saleWindow
			}
			found, err := scan(start, int(end-start))
			if err != nil {
				return time.Time{}, err
			}
			if found {
				break
			}
			end = start
		}
		c.saleScanned, c.saleSeq = true, last
	}
	if last > c.saleSeq {
		if _, err := scan(c.saleSeq, 0); err != nil {
			return time.Time{}, err
		}
		c.saleSeq = last
	}
	return c.saleAt, nil
}

func freeDisk(dir string) int64 {
	var fs syscall.Statfs_t
	if err := syscall.Statfs(dir, &fs); err != nil {
		return 0
	}
	return int64(fs.Bavail) * int64(fs.Bsize)
}

func (c *Client) publishStatus(s *sessionClient, state string) error {
	st, err := c.status(state)
	if err != nil {
		return &fatalError{err}
	}
	b, err := wire.EncodeStatus(st)
	if err != nil {
		return err
	}
	return c.wait(s.cli.Publish(c.topics.Status(c.store, c.till), 1, true, b), "publish status")
}

// onCmd runs on a paho goroutine and never blocks: a command that finds the queue full is
// dropped with an event; the fleet sees no result and may send it again with the same id.
func (c *Client) onCmd(_ mqtt.Client, m mqtt.Message) {
	cmd, err := wire.DecodeCmd(m.Payload())
	if err != nil {
		c.o.Logger.Warn("uplink: cmd rejected", "err", err)
		c.raise(wire.EventCommandDropped, wire.SeverityWarning, err.Error())
		return
	}
	if c.o.HQKey != nil {
		// Anyone who can publish on this topic (a compromised broker, a leaked account)
		// could otherwise open the drawer or start an update: only HQ's key commands.
		if err := wire.VerifyCmd(c.o.HQKey, &cmd, c.store, c.till, c.o.Clock()); err != nil {
			c.o.Logger.Warn("uplink: cmd refused", "id", cmd.ID, "err", err)
			c.raise(wire.EventCommandRefused, wire.SeverityError, err.Error())
			return
		}
	}
	select {
	case c.cmds <- cmd:
	default:
		c.raise(wire.EventCommandDropped, wire.SeverityWarning, "command queue full: "+cmd.ID)
	}
}

// commandWorker carries out commands one at a time, off the paho goroutines and off the
// publish loop, for the length of one session.
func (c *Client) commandWorker(ctx context.Context, s *sessionClient) {
	for {
		select {
		case <-ctx.Done():
			return
		case cmd := <-c.cmds:
			res := c.runCmd(ctx, s, cmd)
			b, err := wire.EncodeCmdResult(res)
			if err != nil {
				continue
			}
			if err := c.wait(s.cli.Publish(c.topics.CmdResult(c.store, c.till), 1, false, b), "publish cmd result"); err != nil {
				c.o.Logger.Warn("uplink: cmd result not sent", "id", cmd.ID, "err", err)
			}
		}
	}
}

func (c *Client) runCmd(ctx context.Context, s *sessionClient, cmd wire.Cmd) wire.CmdResult {
	c.mu.Lock()
	prev, seen := c.cmdDone[cmd.ID]
	c.mu.Unlock()
	if seen {
		prev.Repeated = true
		return prev
	}
	res := wire.CmdResult{ID: cmd.ID, Name: cmd.Name}
	out, err := c.execute(ctx, s, cmd)
	if err != nil {
		res.Error = err.Error()
	} else {
		res.OK, res.Result = true, out
	}
	if err := c.rememberCmd(res); err != nil {
		c.o.Logger.Warn("uplink: cmd result not remembered", "id", cmd.ID, "err", err)
	}
	return res
}

func (c *Client) execute(ctx context.Context, s *sessionClient, cmd wire.Cmd) (json.RawMessage, error) {
	switch cmd.Name {
	case wire.CmdSyncNow:
		c.SyncNow()
		st := c.State()
		return json.Marshal(map[string]uint64{"last_seq": st.LastSeq, "watermark": st.Watermark})
	case wire.CmdStatus:
		st, err := c.status(wire.StateOnline)
		if err != nil {
			return nil, err
		}
		st.V = wire.Version
		return json.Marshal(st)
	case wire.CmdReloadCatalog:
		// Subscribing again makes the broker deliver the retained catalog again.
		topic := c.topics.Catalog(c.store)
		if err := c.wait(s.cli.Unsubscribe(topic), "unsubscribe catalog"); err != nil {
			return nil, err
		}
		if err := c.wait(s.cli.Subscribe(topic, subscribeQoS, c.onCatalog), "subscribe catalog"); err != nil {
			return nil, err
		}
		var v uint64
		if cat := c.catalog.Load(); cat != nil {
			v = cat.Version
		}
		return json.Marshal(map[string]uint64{"catalog": v})
	}
	if fn, ok := c.o.Commands[cmd.Name]; ok {
		cctx, cancel := context.WithTimeout(ctx, 6*c.o.WaitTimeout)
		defer cancel()
		return fn(cctx, cmd.Args)
	}
	return nil, fmt.Errorf("uplink: cmd %q: %w", cmd.Name, ErrUnknownCommand)
}

type storedResult struct {
	At     time.Time      `json:"at"`
	Result wire.CmdResult `json:"result"`
}

// rememberCmd keeps a command's result in memory and in the ledger, so that a repeated id
// is answered and not run again, also after a restart. The oldest are forgotten beyond
// maxCmdResults.
func (c *Client) rememberCmd(res wire.CmdResult) error {
	b, err := json.Marshal(storedResult{At: c.o.Clock().UTC(), Result: res})
	if err != nil {
		return err
	}
	c.mu.Lock()
	c.cmdDone[res.ID] = res
	c.cmdOrder = append(c.cmdOrder, res.ID)
	var drop []string
	for len(c.cmdOrder) > maxCmdResults {
		drop = append(drop, c.cmdOrder[0])
		delete(c.cmdDone, c.cmdOrder[0])
		c.cmdOrder = c.cmdOrder[1:]
	}
	c.mu.Unlock()
	sides := []ledger.Side{ledger.Put(cmdBucket, res.ID, b)}
	for _, id := range drop {
		sides = append(sides, ledger.Delete(cmdBucket, id))
	}
	if err := c.l.Update(sides...); err != nil {
		return fmt.Errorf("uplink: remember cmd %s: %w", res.ID, err)
	}
	return nil
}

func (c *Client) loadCmdResults() error {
	var all []storedResult
	err := c.l.Records(cmdBucket, func(_ string, v []byte) error {
		var r storedResult
		if json.Unmarshal(v, &r) == nil && r.Result.ID != "" {
			all = append(all, r)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("uplink: new: %w", err)
	}
	sort.Slice(all, func(i, j int) bool { return all[i].At.Before(all[j].At) })
	if len(all) > maxCmdResults {
		all = all[len(all)-maxCmdResults:]
	}
	for _, r := range all {
		c.cmdDone[r.Result.ID] = r.Result
		c.cmdOrder = append(c.cmdOrder, r.Result.ID)
	}
	return nil
}

// onCatalog runs on a paho goroutine: it keeps the newest payload and wakes the loop.
func (c *Client) onCatalog(_ mqtt.Client, m mqtt.Message) {
	p := bytes.Clone(m.Payload())
	c.catPending.Store(&p)
	poke(c.catKick)
}

// applyCatalog validates the pending catalog and, when it is newer, stores it in the ledger
// and swaps it in. The retained catalog comes again on every reconnect; the same version
// with the same content is therefore not news and raises nothing.
func (c *Client) applyCatalog() {
	pp := c.catPending.Swap(nil)
	if pp == nil || len(*pp) == 0 {
		return // an empty retained message clears the topic; the till keeps its catalog
	}
	raw := *pp
	cat, err := c.decodeCatalog(raw)
	if err != nil {
		c.raise(wire.EventCatalogRejected, wire.SeverityError, err.Error())
		return
	}
	cur := c.catalog.Load()
	if cur != nil {
		switch {
		case cat.Version < cur.Version:
			c.raise(wire.EventCatalogRejected, wire.SeverityWarning,
				fmt.Sprintf("catalog version %d is older than version %d in use", cat.Version, cur.Version))
			return
		case cat.Version == cur.Version:
			if old, err := c.l.Record(recBucket, recCatalog); err == nil && bytes.Equal(old, raw) {
				return
			}
			c.raise(wire.EventCatalogRejected, wire.SeverityWarning,
				fmt.Sprintf("catalog version %d differs from the version %d in use but is not newer", cat.Version, cur.Version))
			return
		}
	}
	if err := c.l.Update(ledger.Put(recBucket, recCatalog, raw)); err != nil {
		c.raise(wire.EventCatalogRejected, wire.SeverityError, "catalog not stored: "+err.Error())
		return
	}
	c.catalog.Store(cat)
	c.raise(wire.EventCatalogApplied, wire.SeverityInfo,
		fmt.Sprintf("catalog version %d: %d items, %d cashiers", cat.Version, len(cat.Items), len(cat.Cashiers)))
}

// decodeCatalog decodes and validates a catalog for this till's store and, when HQ's key is
// known, verifies HQ's signature: prices and cashiers' PIN hashes come only from HQ.
func (c *Client) decodeCatalog(raw []byte) (*wire.Catalog, error) {
	cat, err := wire.DecodeCatalog(wire.Topic{Store: c.store, Kind: wire.KindCatalog}, raw)
	if err != nil {
		return nil, err
	}
	if c.o.HQKey != nil {
		if err := wire.VerifyCatalog(c.o.HQKey, cat); err != nil {
			return nil, err
		}
	}
	return cat, nil
}
