package hq

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"time"

	"tillbox/uplink/wire"
)

// Resolution is what an operator's quarantine action did.
type Resolution struct {
	Action  string // accept, evict, replay
	Till    TillKey
	Seq     uint64
	Through uint64 // the till's watermark after the action
	Removed int    // stored entries the action moved to the quarantine
	Stored  bool   // the quarantined entry is now held (its row left the quarantine)
	Detail  string
}

// resolveTxn is what the quarantine actions need of a store transaction beyond txn.
type resolveTxn interface {
	txn
	// quarantineItem reads one quarantined message; false when there is none with id.
	quarantineItem(ctx context.Context, id uint64) (Quarantine, bool, error)
	// dropQuarantine removes a quarantined message.
	dropQuarantine(ctx context.Context, id uint64) error
	// heldAt returns the stored payload of k at seq (verified or pending) and the till's
	// watermark, locking the till.
	heldAt(ctx context.Context, k TillKey, seq uint64) (raw []byte, through uint64, err error)
	// evictFrom moves stored entries of k to the quarantine with reason, source
	// "operator": when seq <= the watermark, every entry from seq to it (they chain from
	// the one at seq), lowering the watermark to seq-1 and retiring their central numbers
	// (never given again); above the watermark, only the entry at seq. It returns how many
	// it moved.
	evictFrom(ctx context.Context, k TillKey, seq uint64, reason string) (int, error)
}

// ErrNotResolved is a quarantine action that changed nothing, with why.
var ErrNotResolved = errors.New("not resolved")

func resolving(ctx context.Context, st Store, fn func(t resolveTxn) error) error {
	return st.run(ctx, func(t txn) error {
		rt, ok := t.(resolveTxn)
		if !ok {
			return fmt.Errorf("hq: quarantine: %T cannot resolve", t)
		}
		return fn(rt)
	})
}

// QuarantineItem reads the quarantined message id.
func QuarantineItem(ctx context.Context, st Store, id uint64) (Quarantine, error) {
	var q Quarantine
	err := resolving(ctx, st, func(t resolveTxn) error {
		var ok bool
		var err error
		q, ok, err = t.quarantineItem(ctx, id)
		if err == nil && !ok {
			err = fmt.Errorf("hq: quarantine %d: %w", id, ErrNotFound)
		}
		return err
	})
	return q, err
}

// quarantinedEntry decodes a quarantined message as the entry it carries.
func quarantinedEntry(q Quarantine) (wire.Tx, error) {
	if len(q.Payload) >= MaxQuarantinePayload {
		return wire.Tx{}, fmt.Errorf("hq: quarantine %d: %w: its payload was clipped to %d bytes", q.ID, ErrNotResolved, MaxQuarantinePayload)
	}
	tx, err := wire.DecodeEntry(q.Payload)
	if err != nil {
		return wire.Tx{}, fmt.Errorf("hq: quarantine %d: %w: %v", q.ID, ErrNotResolved, err)
	}
	return tx, nil
}

// storeQuarantined ingests the entry tx of q inside t and, when the till's chain now
// holds exactly it, removes q from the quarantine. Otherwise it fails, which rolls the
// whole action back: a replay that does not resolve leaves no second copy behind.
func storeQuarantined(ctx context.Context, t resolveTxn, q Quarantine, tx wire.Tx, res *Resolution) error {
	k := TillKey{tx.Entry.Store, tx.Entry.Till}
	r, err := ingestIn(ctx, t, Batch{Entries: []Incoming{{Tx: tx, Source: "operator"}}})
	if err != nil {
		return err
	}
	raw, through, err := t.heldAt(ctx, k, tx.Entry.Seq)
	if err != nil {
		return err
	}
	res.Through = through
	if string(raw) != string(tx.Raw) {
		why := "the till holds another entry at that seq"
		if len(r.Alerts) > 0 {
			why = r.Alerts[len(r.Alerts)-1]
		}
		return fmt.Errorf("hq: quarantine %d: %w: %s", q.ID, ErrNotResolved, why)
	}
	res.Stored = true
	return t.dropQuarantine(ctx, q.ID)
}

// Replay runs the ingest again on the quarantined entry id: once whatever kept it out is
// gone (an evicted forgery, a gap now filled), it is stored and leaves the quarantine.
func Replay(ctx context.Context, st Store, id uint64) (Resolution, error) {
	res := Resolution{Action: "replay"}
	err := resolving(ctx, st, func(t resolveTxn) error {
		q, ok, err := t.quarantineItem(ctx, id)
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("hq: replay %d: %w", id, ErrNotFound)
		}
		tx, err := quarantinedEntry(q)
		if err != nil {
			return err
		}
		res.Till, res.Seq = TillKey{tx.Entry.Store, tx.Entry.Till}, tx.Entry.Seq
		return storeQuarantined(ctx, t, q, tx, &res)
	})
	if err != nil {
		return Resolution{}, err
	}
	res.Detail = fmt.Sprintf("quarantined %d replayed: seq %d stored, watermark %d", id, res.Seq, res.Through)
	return res, nil
}

// Accept stores the quarantined entry id in place of what HQ holds at its seq when the
// till's own signature proves it: its signature verifies with key, the till's registered
// device key, and the held entry's does not. The held entry and those chained after it
// go to the quarantine.
func Accept(ctx context.Context, st Store, id uint64, key ed25519.PublicKey) (Resolution, error) {
	res := Resolution{Action: "accept"}
	if len(key) != ed25519.PublicKeySize {
		return Resolution{}, fmt.Errorf("hq: accept %d: %w: no device key registered for the till", id, ErrNotResolved)
	}
	err := resolving(ctx, st, func(t resolveTxn) error {
		q, ok, err := t.quarantineItem(ctx, id)
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("hq: accept %d: %w", id, ErrNotFound)
		}
		tx, err := quarantinedEntry(q)
		if err != nil {
			return err
		}
		e := &tx.Entry
		res.Till, res.Seq = TillKey{e.Store, e.Till}, e.Seq
		if err := wire.VerifyEntry(key, e); err != nil {
			return fmt.Errorf("hq: accept %d: %w: not signed by the till's key: %v", id, ErrNotResolved, err)
		}
		held, _, err := t.heldAt(ctx, res.Till, e.Seq)
		if err != nil {
			return err
		}
		if held != nil && string(held) != string(tx.Raw) {
			h, err := wire.DecodeEntry(held)
			if err == nil && wire.VerifyEntry(key, &h.Entry) == nil {
				return fmt.Errorf("hq: accept %d: %w: the held seq %d is signed by the till's key too", id, ErrNotResolved, e.Seq)
			}
			n, err := t.evictFrom(ctx, res.Till, e.Seq, fmt.Sprintf("replaced: seq %d unsigned by the till's key, quarantined %d signed by it", e.Seq, id))
			if err != nil {
				return err
			}
			res.Removed = n
		}
		return storeQuarantined(ctx, t, q, tx, &res)
	})
	if err != nil {
		return Resolution{}, err
	}
	res.Detail = fmt.Sprintf("quarantined %d accepted at seq %d (signed by the till's key), %d held entries quarantined, watermark %d", id, res.Seq, res.Removed, res.Through)
	return res, nil
}

// Evict moves what HQ holds of till k from seq on to the quarantine (see evictFrom): the
// way out of a forgery HQ stored and acknowledged, after which the till's own entries are
// stored when it sends them again (or by Replay).
func Evict(ctx context.Context, st Store, k TillKey, seq uint64) (Resolution, error) {
	res := Resolution{Action: "evict", Till: k, Seq: seq}
	err := resolving(ctx, st, func(t resolveTxn) error {
		raw, _, err := t.heldAt(ctx, k, seq)
		if err != nil {
			return err
		}
		if raw == nil {
			return fmt.Errorf("hq: evict %s seq %d: %w", k, seq, ErrNotFound)
		}
		n, err := t.evictFrom(ctx, k, seq, fmt.Sprintf("evicted by the operator from seq %d", seq))
		if err != nil {
			return err
		}
		res.Removed = n
		_, res.Through, err = t.heldAt(ctx, k, seq)
		return err
	})
	if err != nil {
		return Resolution{}, err
	}
	res.Detail = fmt.Sprintf("seq %d on evicted: %d entries quarantined, watermark %d", seq, res.Removed, res.Through)
	return res, nil
}

// RecordResolution writes r to the event history as an HQ event of the till, kind
// "quarantine-<action>", saying who did it.
func RecordResolution(ctx context.Context, fs FleetStore, r Resolution, who string, at time.Time) error {
	return fs.AddEvent(ctx, FleetEvent{TillKey: r.Till, Source: "hq", Received: at,
		Event: wire.Event{V: wire.Version, Kind: "quarantine-" + r.Action, Severity: "info", At: at, Detail: "by " + who + ": " + r.Detail}})
}
