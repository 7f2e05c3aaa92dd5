package hq

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"tillbox/ledger/journal"
	"tillbox/uplink/wire"
)

// Batch is what one store transaction takes in: checked entries, and messages already
// found unfit (they are quarantined in the same transaction).
type Batch struct {
	Entries    []Incoming
	Quarantine []Quarantine
	// Limits bound the quarantine per till and kind (nil: DefaultQuarantineLimits).
	Limits *QuarantineLimits
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
	Quarantined int // kept in the quarantine
	// Dropped is what the quarantine's bound did not keep, per till and kind.
	Dropped []Drop
	// Refused are the messages found unfit (not decoding, unsigned, retained) that the
	// quarantine kept, for the fleet's events.
	Refused []Finding
	// Through holds the watermark after commit of every till the batch touched.
	Through map[TillKey]uint64
	// Alerts are the conflicts and broken chains this batch found and the quarantine
	// kept, for the operator: they mean two boxes answer to one till id, or a till's
	// ledger was replaced.
	Alerts []string
	// LetGo is how many of the batch's new entries were not held because they lay more
	// than maxPending above their till's watermark: the till sends them again once HQ's
	// ack has come near them (its window), so what waits above a gap stays bounded.
	LetGo int
	// Deferred is how many of the batch's entries waited for a second transaction,
	// because another transaction (another consumer's batch) held their till's head.
	Deferred int
	// Moved marks the tills whose watermark this batch advanced.
	Moved map[TillKey]bool
	// Resent marks the tills that sent something HQ already had: the till has not seen
	// HQ's ack, so it must be published again even when the watermark did not move.
	Resent map[TillKey]bool
	// Held is, for the Resent tills of a store that keeps their tops (PostgreSQL), what
	// is held above the watermark after commit (see Held).
	Held map[TillKey]Held
}

// Held is what HQ holds of a till above its watermark Through: From is the lowest entry
// stored above it and To the highest, Count how many are stored from From to To (To-From+1
// when none is missing there), and Map, when To is within wire.MaxHeldMap of Through,
// which of them (see wire.Holding); all 0 and Map nil when nothing is held above Through.
// The till's held message (wire.HeldPayload of Holding) carries it.
type Held struct {
	Through, From, To, Count uint64
	Map                      []byte
}

// Holding is h as a held message says it.
func (h Held) Holding() wire.Holding {
	return wire.Holding{Through: h.Through, From: h.From, To: h.To, Count: h.Count, Map: h.Map}
}

// heldReader is a transaction that reads what is stored above the watermarks of tills
// (pgTxn.heldAbove): a store without it (bbolt, which keeps no tops) reports no Held.
type heldReader interface {
	// heldAbove returns, for each span's till, what is stored with from <= seq <= to
	// (from is the watermark+1, to the till's top), for Held; a till with nothing
	// stored there is left out.
	heldAbove(ctx context.Context, spans []span) (map[TillKey]Held, error)
}

// scanSpan bounds one read of candidate links per till while advancing a watermark.
const scanSpan = 2000

// maxPending bounds how far above its watermark a till's entry is held while it waits
// for a gap to close: above the largest window a till may have (uplink Options.Window,
// at most 60,000), so that a till that keeps to its window never has an entry let go.
// What lies beyond is not stored (Result.LetGo), and the till's resend brings it again.
const maxPending = 1 << 16

// Ingest stores a batch in one transaction: it inserts new keys, quarantines conflicts
// and unfit messages, advances each touched till's watermark over the contiguous,
// chain-verified entries (moving to the quarantine an entry whose prev does not link, or
// a document whose receipt number is not above its till's previous document's),
// and numbers the newly verified receipts. Nothing of it is visible unless it all commits.
//
// Its cost per entry does not depend on how many tills the batch spans: each phase is
// one call of the store for the whole batch (for PostgreSQL, a constant number of round
// trips), and a scan is repeated only for a till whose stored run exceeds scanSpan.
//
// Where the store can lock a till's head without waiting (PostgreSQL), the entries of
// tills whose heads another transaction holds (another consumer's batch) are left out of
// the transaction, which goes on with the others; they are stored by a second
// transaction once the first has committed, which waits for those heads. Two consumers
// on a shared subscription, whose batches hold the same tills, then store each till's
// entries in turn instead of one batch waiting for all of the other's.
func Ingest(ctx context.Context, st Store, b Batch) (Result, error) {
	var res Result
	var later []Incoming
	err := st.run(ctx, func(t txn) error {
		var err error
		res, later, err = ingestLocking(ctx, t, b, true)
		return err
	})
	if err != nil {
		return Result{}, err
	}
	if len(later) > 0 {
		var more Result
		err := st.run(ctx, func(t txn) error {
			var err error
			more, err = ingestIn(ctx, t, Batch{Entries: later, Limits: b.Limits})
			return err
		})
		if err != nil {
			return Result{}, err
		}
		res.add(more)
	}
	return res, nil
}

// add adds what r did to what res did.
func (res *Result) add(r Result) {
	res.Stored += r.Stored
	res.Duplicates += r.Duplicates
	res.Quarantined += r.Quarantined
	res.LetGo += r.LetGo
	res.Deferred += r.Deferred
	res.Dropped = append(res.Dropped, r.Dropped...)
	res.Refused = append(res.Refused, r.Refused...)
	res.Alerts = append(res.Alerts, r.Alerts...)
	for k, v := range r.Through {
		res.Through[k] = max(res.Through[k], v)
	}
	for k := range r.Moved {
		res.Moved[k] = true
	}
	for k := range r.Resent {
		res.Resent[k] = true
	}
	for k, h := range r.Held { // r's transaction committed after res's: its view is the newer
		if res.Held == nil {
			res.Held = map[TillKey]Held{}
		}
		res.Held[k] = h
	}
}

// headLocker is a transaction that locks the heads of a batch's tills before the batch
// inserts anything, and can leave out those another transaction holds (pgTxn.lockFirst).
type headLocker interface {
	lockFirst(ctx context.Context, keys []TillKey, skip bool) (skipped []TillKey, err error)
}

// ingestIn is Ingest's work inside the transaction t, waiting for every till it needs.
func ingestIn(ctx context.Context, t txn, b Batch) (Result, error) {
	res, _, err := ingestLocking(ctx, t, b, false)
	return res, err
}

// ingestLocking is Ingest's work inside the transaction t. With skip, the entries of the
// tills whose heads another transaction holds are not stored: they are returned.
func ingestLocking(ctx context.Context, t txn, b Batch, skip bool) (Result, []Incoming, error) {
	res := Result{Through: map[TillKey]uint64{}, Moved: map[TillKey]bool{}, Resent: map[TillKey]bool{}}
	now := time.Now().UTC()
	var later []Incoming
	p := planBatch(b.Entries)
	if hl, ok := t.(headLocker); ok && len(p.keys) > 0 {
		skipped, err := hl.lockFirst(ctx, p.keys, skip)
		if err != nil {
			return res, nil, err
		}
		if len(skipped) > 0 {
			held := make(map[TillKey]bool, len(skipped))
			for _, k := range skipped {
				held[k] = true
			}
			var mine []Incoming
			for _, in := range b.Entries {
				if held[TillKey{in.Tx.Entry.Store, in.Tx.Entry.Till}] {
					later = append(later, in)
				} else {
					mine = append(mine, in)
				}
			}
			b.Entries = mine
			p = planBatch(mine)
		}
	}
	res, err := ingestPlanned(ctx, t, b, p, res, now)
	res.Deferred = len(later)
	return res, later, err
}

// ingestPlanned stores b, planned as p, in t once its tills are locked (or, for a store
// that does not lock first, as advanceWatermarks locks them).
func ingestPlanned(ctx context.Context, t txn, b Batch, p *plan, res Result, now time.Time) (Result, error) {
	if len(p.items) > 0 {
		if err := t.insert(ctx, p.items); err != nil {
			return res, err
		}
	}
	lim := b.Limits.get()
	unfitQs := unfit(b.Quarantine, now)
	if qs := append(unfitQs, classify(p, &res, now)...); len(qs) > 0 {
		reqs := make([]boundReq, len(qs))
		for i, q := range qs {
			reqs[i] = boundReq{key: boundKey{TillKey{q.Store, q.Till}, QuarantineKind(q)}, size: quarantineSize(q)}
		}
		keep, err := admitQuarantine(ctx, t, reqs, lim, now, &res)
		if err != nil {
			return res, err
		}
		kept := qs[:0:0]
		for i, q := range qs {
			if !keep[i] {
				continue
			}
			kept = append(kept, q)
			switch {
			case i >= len(unfitQs):
				res.Alerts = append(res.Alerts, TillKey{q.Store, q.Till}.String()+": "+q.Reason)
			case q.Source != "operator":
				res.Refused = append(res.Refused, Finding{TillKey: TillKey{q.Store, q.Till}, Kind: reqs[i].key.kind, Detail: q.Reason})
			}
		}
		if len(kept) > 0 {
			if err := t.quarantine(ctx, kept); err != nil {
				return res, err
			}
			res.Quarantined += len(kept)
		}
	}
	docs, err := advanceWatermarks(ctx, t, p, &res, lim, now)
	if err != nil {
		return res, err
	}
	return res, numberReceipts(ctx, t, docs)
}

// plan is a batch sorted for the store: the first occurrence of each key (to insert), the
// later ones (compared with the first after the insert, because one statement cannot
// both insert and compare), and the tills touched.
type plan struct {
	items, later []*item   // items by till and seq
	keys         []TillKey // sorted, distinct; items[i].till indexes it
}

func tillLess(a, b TillKey) bool { return tillCmp(a, b) < 0 }

func tillCmp(a, b TillKey) int {
	if c := strings.Compare(a.Store, b.Store); c != 0 {
		return c
	}
	return strings.Compare(a.Till, b.Till)
}

// planBatch sorts the entries by till and seq: keys in one order in every transaction,
// so two consumers inserting overlapping resends, or locking the same tills, wait on each
// other's rows in the same order and never deadlock. The sort is stable, so a key's first
// occurrence in the batch is the one inserted.
func planBatch(in []Incoming) *plan {
	all := make([]item, len(in))
	ptrs := make([]*item, len(in))
	for i := range in {
		e := &in[i].Tx.Entry
		all[i] = item{key: TillKey{e.Store, e.Till}, seq: e.Seq, hash: e.Hash, prev: e.Prev, kind: string(e.Kind),
			receipt: e.Receipt, at: e.At, raw: in[i].Tx.Raw, entry: e, source: in[i].Source}
		ptrs[i] = &all[i]
	}
	slices.SortStableFunc(ptrs, func(a, b *item) int {
		if c := tillCmp(a.key, b.key); c != 0 {
			return c
		}
		return cmp.Compare(a.seq, b.seq)
	})
	p := &plan{items: make([]*item, 0, len(ptrs))}
	var prev *item
	for _, it := range ptrs {
		if prev != nil && prev.key == it.key && prev.seq == it.seq {
			it.first = prev
			p.later = append(p.later, it)
			continue
		}
		if prev == nil || prev.key != it.key {
			p.keys = append(p.keys, it.key)
		}
		it.till = len(p.keys) - 1
		p.items = append(p.items, it)
		prev = it
	}
	return p
}

// find is the item of key k and seq, or nil.
func (p *plan) find(k TillKey, seq uint64) *item {
	i, ok := slices.BinarySearchFunc(p.items, item{key: k, seq: seq}, func(a *item, b item) int {
		if c := tillCmp(a.key, b.key); c != 0 {
			return c
		}
		return cmp.Compare(a.seq, b.seq)
	})
	if !ok {
		return nil
	}
	return p.items[i]
}

// unfit dates and clips the messages found unfit before the batch.
func unfit(qs []Quarantine, now time.Time) []Quarantine {
	out := make([]Quarantine, 0, len(qs))
	for _, q := range qs {
		if q.At.IsZero() {
			q.At = now
		}
		q.Payload = clipPayload(q.Payload)
		out = append(out, q)
	}
	return out
}

// classify counts what the insert did and returns the conflicts to quarantine: a key
// held (or first seen in this batch) with another hash. The caller raises the alerts of
// those the quarantine's bound keeps.
func classify(p *plan, res *Result, now time.Time) []Quarantine {
	var qs []Quarantine
	conflict := func(it *item, other string) {
		reason := fmt.Sprintf("conflict: seq %d is held with hash %s, this one has %s", it.seq, short(other), short(it.hash))
		qs = append(qs, Quarantine{At: now, Source: it.source, Store: it.key.Store, Till: it.key.Till, Seq: it.seq,
			Reason: reason, Payload: clipPayload(it.raw)})
	}
	for _, it := range p.items {
		switch {
		case it.inserted:
			res.Stored++
		case it.existing == it.hash:
			res.Duplicates++
			res.Resent[it.key] = true
		default:
			conflict(it, it.existing)
		}
	}
	for _, it := range p.later {
		f := it.first
		held := f.hash
		if !f.inserted {
			held = f.existing
		}
		if it.hash == held {
			res.Duplicates++
			res.Resent[it.key] = true
		} else {
			conflict(it, held)
		}
	}
	return qs
}

// chain is one till's watermark while it advances.
type chain struct {
	head  TillState
	start TillState
	// mine are the batch's items of the till, by seq (those inserted are candidate links),
	// and next the first of them the walk has not passed.
	mine      []*item
	next      int
	known     map[uint64]link // the other candidate links by seq: what reads returned
	scannedTo uint64          // every stored seq up to here is in mine or known
	top       uint64          // nothing is stored above it (noTop: unknown)
	done      bool
}

// link returns the candidate link at seq, and the batch's item when it is one.
func (c *chain) link(seq uint64) (link, *item, bool) {
	for c.next < len(c.mine) && c.mine[c.next].seq < seq {
		c.next++
	}
	if c.next < len(c.mine) {
		if it := c.mine[c.next]; it.seq == seq && it.inserted {
			return link{seq: it.seq, prev: it.prev, hash: it.hash, receipt: it.receipt}, it, true
		}
	}
	l, ok := c.known[seq]
	if ok {
		// What the walk has passed is not needed again: the links held stay within a
		// read and the batch's own.
		delete(c.known, seq)
	}
	return l, nil, ok
}

// walk advances c over the known links. It returns the eviction of a link that does not
// chain (or a document that repeats or skips a receipt number), or reports that the next
// link must be read first.
func (c *chain) walk(docs map[string][]centralRef) (ev *eviction, needScan bool) {
	for {
		l, it, ok := c.link(c.head.Through + 1)
		if !ok {
			if c.scannedTo <= c.head.Through && c.head.Through < c.top {
				return nil, true
			}
			c.done = true
			return nil, false
		}
		if l.prev != c.head.Hash {
			c.done = true
			return &eviction{key: c.head.TillKey, seq: l.seq, reason: fmt.Sprintf("broken chain: seq %d has prev %s, but seq %d has hash %s",
				l.seq, short(l.prev), c.head.Through, short(c.head.Hash))}, false
		}
		if l.receipt != "" {
			// Numbers only ever rise: a repeat or a step back is refused. A step of more
			// than one is accepted, because a till's ledger written before the document
			// counter numbered its documents by seq (technical entries in between took
			// numbers too), and those entries still arrive from a backlog; the wire decoder
			// has already checked that no number exceeds its seq.
			if got, last := docNumber(l.receipt), docNumber(c.head.lastDoc); got <= last {
				c.done = true
				return &eviction{key: c.head.TillKey, seq: l.seq, reason: fmt.Sprintf("receipt numbering: seq %d has receipt %s, but the document before it is %s (want a number above %d)",
					l.seq, l.receipt, orNone(c.head.lastDoc), last)}, false
			}
			c.head.lastDoc = l.receipt
		}
		c.head.Through, c.head.Hash = l.seq, l.hash
		if l.receipt != "" {
			docs[c.head.Store] = append(docs[c.head.Store], centralRef{till: c.head.Till, seq: l.seq, hash: l.hash, it: it})
		}
	}
}

// advanceWatermarks locks every touched till (in key order; central numbers come later,
// after all till locks, for the same reason), moves each watermark over the contiguous,
// chain-verified entries, evicts a link that breaks the chain, and writes the heads that
// moved. It returns the newly verified receipts by store, in till and chain order.
func advanceWatermarks(ctx context.Context, t txn, p *plan, res *Result, lim QuarantineLimits, now time.Time) (map[string][]centralRef, error) {
	docs := map[string][]centralRef{}
	if len(p.keys) == 0 {
		return docs, nil
	}
	// The rows this transaction inserted are known without reading them back; others may
	// have changed since they were compared, so they are read under the lock. A till's
	// inserted seqs that form one run are not read again.
	ours := make([]span, len(p.keys))
	count := make([]uint64, len(p.keys))
	for _, it := range p.items {
		if !it.inserted {
			continue
		}
		s := &ours[it.till]
		if s.from == 0 {
			s.key, s.from = it.key, it.seq
		}
		s.to = it.seq // items are in seq order
		count[it.till]++
	}
	for i, s := range ours {
		if s.from != 0 && s.to-s.from+1 != count[i] {
			ours[i] = span{}
		}
	}
	heads, read, err := t.lockTills(ctx, p.keys, ours)
	if err != nil {
		return nil, err
	}
	chains := make([]chain, len(heads))
	for i, h := range heads {
		c := &chains[i]
		*c = chain{head: h, start: h, scannedTo: h.Through + scanSpan, top: h.top}
		if links := read[h.TillKey]; len(links) > 0 {
			c.known = make(map[uint64]link, len(links))
			for _, l := range links {
				c.known[l.seq] = l
			}
		}
	}
	for lo := 0; lo < len(p.items); {
		c := &chains[p.items[lo].till]
		hi := lo
		for hi < len(p.items) && p.items[hi].till == p.items[lo].till {
			if it := p.items[hi]; it.inserted && c.top != noTop {
				c.top = max(c.top, it.seq)
			}
			hi++
		}
		c.mine = p.items[lo:hi]
		lo = hi
	}
	var evs []eviction
	for {
		var spans []span
		for i := range chains {
			c := &chains[i]
			if c.done {
				continue
			}
			ev, need := c.walk(docs)
			if ev != nil {
				evs = append(evs, *ev)
			}
			if need {
				spans = append(spans, span{key: c.head.TillKey, from: c.head.Through + 1, to: c.head.Through + scanSpan})
			}
		}
		if len(spans) == 0 {
			break
		}
		links, err := t.scan(ctx, spans)
		if err != nil {
			return nil, err
		}
		byKey := make(map[TillKey]*chain, len(spans))
		for i := range chains {
			if c := &chains[i]; !c.done {
				byKey[c.head.TillKey] = c
			}
		}
		for _, s := range spans {
			c := byKey[s.key]
			if c.known == nil {
				c.known = map[uint64]link{}
			}
			for _, l := range links[s.key] {
				c.known[l.seq] = l
			}
			c.scannedTo = s.to
		}
	}
	// What this batch brought more than maxPending above where its till's watermark now
	// is, is not held: it leaves with the evictions, uncounted in the quarantine.
	var letGo []eviction
	for _, it := range p.items {
		if c := &chains[it.till]; it.inserted && it.seq > c.head.Through+maxPending {
			letGo = append(letGo, eviction{key: it.key, seq: it.seq, drop: true})
			it.inserted = false
		}
	}
	if len(letGo) > 0 {
		res.Stored -= len(letGo)
		res.LetGo += len(letGo)
		for i := range chains {
			if c := &chains[i]; c.top != noTop {
				c.top = c.start.top
			}
		}
		for _, it := range p.items {
			if c := &chains[it.till]; it.inserted && c.top != noTop {
				c.top = max(c.top, it.seq)
			}
		}
	}
	if len(evs) > 0 {
		// The entry leaves what is held either way; the bound decides whether its record
		// is kept in the quarantine. Its payload is at hand when this batch brought it;
		// otherwise it is counted at the most a record keeps.
		reqs := make([]boundReq, len(evs))
		for i, ev := range evs {
			size := int64(MaxQuarantinePayload)
			if it := p.find(ev.key, ev.seq); it != nil && it.inserted {
				size = int64(len(clipPayload(it.raw)))
			}
			q := Quarantine{Source: "chain", Reason: ev.reason}
			reqs[i] = boundReq{key: boundKey{ev.key, QuarantineKind(q)}, size: size + int64(len(ev.reason)) + quarantineOverhead}
		}
		keep, err := admitQuarantine(ctx, t, reqs, lim, now, res)
		if err != nil {
			return nil, err
		}
		for i := range evs {
			evs[i].drop = !keep[i]
		}
		for _, ev := range evs {
			if !ev.drop {
				res.Quarantined++
				res.Alerts = append(res.Alerts, ev.key.String()+": "+ev.reason)
			}
		}
	}
	if evs = append(evs, letGo...); len(evs) > 0 {
		if err := t.evict(ctx, evs); err != nil {
			return nil, err
		}
	}
	// A till's head is written when its watermark moved, or when entries above it were
	// stored (its top).
	var moved []TillState
	for i := range chains {
		c := &chains[i]
		if c.head.Through != c.start.Through {
			res.Moved[c.head.TillKey] = true
		}
		if c.head.Through != c.start.Through || c.top != c.start.top {
			c.head.top = c.top
			moved = append(moved, c.head)
		}
		res.Through[c.head.TillKey] = c.head.Through
	}
	if err := readHeld(ctx, t, chains, res); err != nil {
		return nil, err
	}
	if len(moved) > 0 {
		if err := t.setThrough(ctx, moved); err != nil {
			return nil, err
		}
	}
	return docs, nil
}

// readHeld sets res.Held of the tills that resent entries, once their chains are walked
// and what leaves them evicted: what is stored above their watermarks, read in one round
// trip for all of them, only for those with entries stored above a gap (the seq right
// above the watermark is not stored, or the walk would have passed it).
func readHeld(ctx context.Context, t txn, chains []chain, res *Result) error {
	hr, ok := t.(heldReader)
	if !ok {
		return nil
	}
	var spans []span
	for i := range chains {
		c := &chains[i]
		if !res.Resent[c.head.TillKey] || c.top == noTop {
			continue
		}
		if res.Held == nil {
			res.Held = map[TillKey]Held{}
		}
		res.Held[c.head.TillKey] = Held{Through: c.head.Through}
		if c.top > c.head.Through+1 {
			spans = append(spans, span{key: c.head.TillKey, from: c.head.Through + 1, to: c.top})
		}
	}
	if len(spans) == 0 {
		return nil
	}
	found, err := hr.heldAbove(ctx, spans)
	if err != nil {
		return err
	}
	for k, h := range found {
		h.Through = res.Held[k].Through
		res.Held[k] = h
	}
	return nil
}

// AlertKind splits the reason of an alert (Result.Alerts, after the till's name) into the
// kind of fleet event it is, "broken-chain" or "conflict", and the detail that follows
// the reason's own name of that kind, so that an event reads "broken-chain: seq 5 has
// prev ..." and not the kind twice.
func AlertKind(reason string) (kind, detail string) {
	if d, ok := strings.CutPrefix(reason, "broken chain: "); ok {
		return "broken-chain", d
	}
	if d, ok := strings.CutPrefix(reason, "conflict: "); ok {
		return "conflict", d
	}
	return "conflict", reason
}

// numberReceipts gives the newly verified receipts their stores' next central numbers,
// stores in name order.
func numberReceipts(ctx context.Context, t txn, docs map[string][]centralRef) error {
	if len(docs) == 0 {
		return nil
	}
	stores := make([]string, 0, len(docs))
	for s := range docs {
		stores = append(stores, s)
	}
	sort.Strings(stores)
	return t.assignCentral(ctx, stores, docs)
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

// docNumber is the document number a receipt ends with (wire checks the form
// PREFIX-NNNNNN before an entry is stored), 0 for none.
func docNumber(receipt string) uint64 {
	n, _ := strconv.ParseUint(receipt[strings.LastIndexByte(receipt, '-')+1:], 10, 64)
	return n
}

func orNone(receipt string) string {
	if receipt == "" {
		return "none"
	}
	return receipt
}

func short(h string) string {
	if len(h) > 12 {
		return h[:12] + "…"
	}
	return h
}
