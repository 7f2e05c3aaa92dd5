package hq

import (
	"context"
	"fmt"
	"sort"
	"time"

	"tillbox/ledger/journal"
	"tillbox/uplink/wire"
)

// Batch is what one store transaction takes in: checked entries, and messages already
// found unfit (they are quarantined in the same transaction).
type Batch struct {
	Entries    []Incoming
	Quarantine []Quarantine
}

// Incoming is one checked entry and where it came from.
type Incoming struct {
	Tx     wire.Tx
	Source string // "mqtt" or "import"
}

// Result is what a committed batch did.
type Result struct {
	Stored      int
	Duplicates  int
	Quarantined int
	// Through holds the watermark after commit of every till the batch touched.
	Through map[TillKey]uint64
	// Alerts are the conflicts and broken chains this batch found, for the operator: they
	// mean two boxes answer to one till id, or a till's ledger was replaced.
	Alerts []string
	// Moved marks the tills whose watermark this batch advanced.
	Moved map[TillKey]bool
	// Resent marks the tills that sent something HQ already had: the till has not seen
	// HQ's ack, so it must be published again even when the watermark did not move.
	Resent map[TillKey]bool
}

// scanSpan bounds one read of candidate links while advancing a watermark.
const scanSpan = 2000

// Ingest stores a batch in one transaction: it inserts new keys, quarantines conflicts
// and unfit messages, advances each touched till's watermark over the contiguous,
// chain-verified entries (moving an entry whose prev does not link to the quarantine),
// and numbers the newly verified receipts. Nothing of it is visible unless it all commits.
func Ingest(ctx context.Context, st Store, b Batch) (Result, error) {
	var res Result
	err := st.run(ctx, func(t txn) error {
		res = Result{Through: map[TillKey]uint64{}, Moved: map[TillKey]bool{}, Resent: map[TillKey]bool{}}
		now := time.Now().UTC()
		for _, q := range b.Quarantine {
			if q.At.IsZero() {
				q.At = now
			}
			q.Payload = clipPayload(q.Payload)
			if err := t.quarantine(ctx, q); err != nil {
				return err
			}
			res.Quarantined++
		}
		// The first occurrence of a key in the batch is inserted; later ones are compared
		// with it here, because one statement cannot both insert and compare.
		first := map[TillKey]map[uint64]*item{}
		var items, later []*item
		for _, in := range b.Entries {
			e := &in.Tx.Entry
			it := &item{key: TillKey{e.Store, e.Till}, seq: e.Seq, hash: e.Hash, prev: e.Prev, kind: string(e.Kind),
				receipt: e.Receipt, at: e.At, raw: in.Tx.Raw, source: in.Source}
			m := first[it.key]
			if m == nil {
				m = map[uint64]*item{}
				first[it.key] = m
			}
			if _, dup := m[it.seq]; dup {
				later = append(later, it)
				continue
			}
			m[it.seq] = it
			items = append(items, it)
		}
		// Keys in one order in every transaction: two consumers inserting overlapping
		// resends wait on each other's rows in the same order and never deadlock.
		sort.Slice(items, func(i, j int) bool {
			a, b := items[i], items[j]
			if a.key != b.key {
				return a.key.Store < b.key.Store || a.key.Store == b.key.Store && a.key.Till < b.key.Till
			}
			return a.seq < b.seq
		})
		if len(items) > 0 {
			if err := t.insert(ctx, items); err != nil {
				return err
			}
		}
		conflict := func(it *item, other string) error {
			res.Quarantined++
			reason := fmt.Sprintf("conflict: seq %d is held with hash %s, this one has %s", it.seq, short(other), short(it.hash))
			res.Alerts = append(res.Alerts, it.key.String()+": "+reason)
			return t.quarantine(ctx, Quarantine{At: now, Source: it.source, Store: it.key.Store, Till: it.key.Till, Seq: it.seq,
				Reason: reason, Payload: clipPayload(it.raw)})
		}
		for _, it := range items {
			switch {
			case it.inserted:
				res.Stored++
			case it.existing == it.hash:
				res.Duplicates++
				res.Resent[it.key] = true
			default:
				if err := conflict(it, it.existing); err != nil {
					return err
				}
			}
		}
		for _, it := range later {
			f := first[it.key][it.seq]
			held := f.hash
			if !f.inserted {
				held = f.existing
			}
			if it.hash == held {
				res.Duplicates++
				res.Resent[it.key] = true
			} else if err := conflict(it, held); err != nil {
				return err
			}
		}

		// Advance watermarks, tills in a fixed order so that two consumers never wait on
		// each other's locks in a cycle; central numbers after all till locks, for the same
		// reason.
		keys := make([]TillKey, 0, len(first))
		for k := range first {
			keys = append(keys, k)
		}
		sort.Slice(keys, func(i, j int) bool {
			if keys[i].Store != keys[j].Store {
				return keys[i].Store < keys[j].Store
			}
			return keys[i].Till < keys[j].Till
		})
		// The rows this transaction inserted are known without reading them back; others
		// may have changed since they were compared, so they are read under the lock.
		ours := map[TillKey]map[uint64]link{}
		for _, it := range items {
			if !it.inserted {
				continue
			}
			m := ours[it.key]
			if m == nil {
				m = map[uint64]link{}
				ours[it.key] = m
			}
			m[it.seq] = link{seq: it.seq, prev: it.prev, hash: it.hash, receipt: it.receipt}
		}
		docs := map[string][]centralRef{}
		for _, k := range keys {
			through, hash, err := t.lockTill(ctx, k)
			if err != nil {
				return err
			}
			start := through
			known := ours[k]
			if known == nil {
				known = map[uint64]link{}
			}
			scannedTo := through
			for {
				l, ok := known[through+1]
				if !ok && scannedTo <= through {
					links, err := t.scan(ctx, k, through+1, through+scanSpan)
					if err != nil {
						return err
					}
					for _, l := range links {
						known[l.seq] = l
					}
					scannedTo = through + scanSpan
					l, ok = known[through+1]
				}
				if !ok {
					break
				}
				if l.prev != hash {
					reason := fmt.Sprintf("broken chain: seq %d has prev %s, but seq %d has hash %s", l.seq, short(l.prev), through, short(hash))
					if err := t.evict(ctx, k, l.seq, reason); err != nil {
						return err
					}
					res.Quarantined++
					res.Alerts = append(res.Alerts, k.String()+": "+reason)
					break
				}
				through, hash = l.seq, l.hash
				if l.receipt != "" {
					docs[k.Store] = append(docs[k.Store], centralRef{till: k.Till, seq: l.seq})
				}
			}
			if through != start {
				res.Moved[k] = true
				if err := t.setThrough(ctx, k, through, hash); err != nil {
					return err
				}
			}
			res.Through[k] = through
		}
		stores := make([]string, 0, len(docs))
		for s := range docs {
			stores = append(stores, s)
		}
		sort.Strings(stores)
		for _, s := range stores {
			if err := t.assignCentral(ctx, s, docs[s]); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return Result{}, err
	}
	return res, nil
}

// Check verifies a till's stored entries from seq 1 to its watermark: each hash matches
// its content and each prev the hash before it. It returns the number of entries checked.
func Check(ctx context.Context, st Store, k TillKey) (int, error) {
	through, err := st.Through(ctx, k)
	if err != nil {
		return 0, err
	}
	prev, n := journal.GenesisPrev, 0
	err = st.Entries(ctx, k, 0, func(r Record) error {
		if r.Seq > through {
			return nil
		}
		if r.Seq != uint64(n)+1 {
			return fmt.Errorf("hq: check %s: seq %d follows seq %d", k, r.Seq, n)
		}
		tx, err := wire.DecodeEntry(r.Raw)
		if err != nil {
			return fmt.Errorf("hq: check %s: seq %d: %w", k, r.Seq, err)
		}
		if _, err := journal.VerifyChain(prev, []journal.Entry{tx.Entry}); err != nil {
			return fmt.Errorf("hq: check %s: %w", k, err)
		}
		prev = tx.Entry.Hash
		n++
		return nil
	})
	if err != nil {
		return n, err
	}
	if uint64(n) != through {
		return n, fmt.Errorf("hq: check %s: %d entries held up to the watermark %d", k, n, through)
	}
	return n, nil
}

func short(h string) string {
	if len(h) > 12 {
		return h[:12] + "…"
	}
	return h
}
