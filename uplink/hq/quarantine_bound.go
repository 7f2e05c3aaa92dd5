package hq

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"tillbox/uplink/wire"
)

// The kinds of reason a message is quarantined for: the values of the reason label of
// tillhq_quarantine_dropped_total and the second half of the quarantine's bound. The set
// is fixed; QuarantineKind sorts every quarantine record into one of them.
const (
	QuarantineConflict    = "conflict"     // the till's seq is held with another hash
	QuarantineBrokenChain = "broken-chain" // its prev does not link to the entry before it
	QuarantineNumbering   = "numbering"    // its receipt number repeats or goes back
	QuarantineSignature   = "signature"    // not signed by the till's registered key
	QuarantineTooLarge    = "too-large"    // over the wire contract's size limit
	QuarantineRetained    = "retained"     // a retained tx message
	QuarantineMalformed   = "malformed"    // any other refusal of the decoder
	QuarantineOperator    = "operator"     // moved there by an operator's evict or accept
)

// QuarantineKinds lists every kind, in a fixed order.
var QuarantineKinds = []string{QuarantineConflict, QuarantineBrokenChain, QuarantineNumbering, QuarantineSignature,
	QuarantineTooLarge, QuarantineRetained, QuarantineMalformed, QuarantineOperator}

// QuarantineKind is the kind of reason q was quarantined for, read from its source and
// reason as the ingest and the decoders write them.
func QuarantineKind(q Quarantine) string {
	r := q.Reason
	switch {
	case q.Source == "operator":
		return QuarantineOperator
	case strings.HasPrefix(r, "conflict:"):
		return QuarantineConflict
	case strings.HasPrefix(r, "broken chain"):
		return QuarantineBrokenChain
	case strings.HasPrefix(r, "receipt numbering"):
		return QuarantineNumbering
	case r == reasonRetained:
		return QuarantineRetained
	case strings.Contains(r, wire.ErrSignature.Error()):
		return QuarantineSignature
	case strings.Contains(r, wire.ErrTooLarge.Error()):
		return QuarantineTooLarge
	}
	return QuarantineMalformed
}

const reasonRetained = "retained tx message"

// QuarantineLimits bound what HQ keeps in its quarantine of one till and one kind of
// reason: within each Window, at most Records messages and Bytes bytes. The first message
// over either limit ends what is kept of that till and kind until the window ends; every
// message not kept is counted (QuarantineBound.Dropped) and the first of a window is
// reported at once (Result.Dropped with First). Nothing but the quarantine record is
// lost: an entry refused at HQ stays in the till's ledger and is sent again until HQ
// acknowledges it, and the entries HQ stores are never bounded.
//
// A record's bytes are its payload as kept (at most MaxQuarantinePayload), its reason and
// its topic, plus quarantineOverhead for the row. A record moved there by an operator
// (QuarantineOperator) is not bounded: it was stored at HQ, and it is never dropped.
type QuarantineLimits struct {
	// Window is the period both limits count over, from the first record of a window.
	// Zero: DefaultQuarantineWindow.
	Window time.Duration
	// Records is the most messages of one till and kind kept per window (0: no limit).
	Records int
	// Bytes is the most bytes of one till and kind kept per window (0: no limit).
	Bytes int64
}

// Defaults of QuarantineLimits, sized in the README ("The quarantine's bound"): a real
// conflict (two boxes on one till id, a replaced ledger) quarantines the till's window of
// 500 entries on each resend, and the first of them are all an operator needs to see.
const (
	DefaultQuarantineWindow  = time.Hour
	DefaultQuarantineRecords = 500
	DefaultQuarantineBytes   = 1 << 20
)

// DefaultQuarantineLimits are the limits HQ uses when it is not told otherwise.
func DefaultQuarantineLimits() QuarantineLimits {
	return QuarantineLimits{Window: DefaultQuarantineWindow, Records: DefaultQuarantineRecords, Bytes: DefaultQuarantineBytes}
}

func (l *QuarantineLimits) get() QuarantineLimits {
	if l == nil {
		return DefaultQuarantineLimits()
	}
	o := *l
	if o.Window <= 0 {
		o.Window = DefaultQuarantineWindow
	}
	return o
}

// quarantineOverhead is what a record costs beyond its payload, reason and topic.
const quarantineOverhead = 64

func quarantineSize(q Quarantine) int64 {
	return int64(len(q.Payload) + len(q.Reason) + len(q.Topic) + quarantineOverhead)
}

// boundKey is one till and kind; a message whose topic names no valid till is counted
// under the empty till.
type boundKey struct {
	TillKey
	kind string
}

func boundLess(a, b boundKey) bool {
	if a.TillKey != b.TillKey {
		return tillLess(a.TillKey, b.TillKey)
	}
	return a.kind < b.kind
}

// boundState is what the store keeps of one till and kind.
type boundState struct {
	WindowStart   time.Time `json:"window_start"`
	Records       int       `json:"records"` // kept this window
	Bytes         int64     `json:"bytes"`   // kept this window
	Dropped       uint64    `json:"dropped"` // ever
	WindowDropped uint64    `json:"window_dropped"`
	LastDropped   time.Time `json:"last_dropped"`
}

// QuarantineBound is what HQ counted of one till and kind: the present window and what
// it dropped over the bound.
type QuarantineBound struct {
	Store, Till string
	Kind        string // one of QuarantineKinds
	WindowStart time.Time
	Records     int        // kept in the present window
	Bytes       int64      // kept in the present window
	Dropped     uint64     // dropped over the bound, ever
	LastDropped *time.Time `json:",omitempty"`
}

// Drop is what a batch dropped of one till and kind.
type Drop struct {
	TillKey
	Kind    string
	Dropped int    // in this batch
	Total   uint64 // ever, after this batch
	// First: the bound was passed in this batch; nothing more of the till and kind is
	// kept until Until.
	First bool
	Until time.Time
}

// boundTxn is what the bound needs of a store transaction.
type boundTxn interface {
	// bounds returns the state of each of keys (sorted, distinct; the zero state for one
	// never seen), locking them until commit.
	bounds(ctx context.Context, keys []boundKey) (map[boundKey]boundState, error)
	// setBounds writes states.
	setBounds(ctx context.Context, states map[boundKey]boundState) error
}

// boundReq is one record the bound decides on; size is its bytes (an upper bound where
// the payload is not at hand).
type boundReq struct {
	key  boundKey
	size int64
}

// admitQuarantine decides, in order, which of reqs are kept under lim at now, updates
// the states and adds what was dropped to res. Records of an unbounded kind are always
// kept.
func admitQuarantine(ctx context.Context, t txn, reqs []boundReq, lim QuarantineLimits, now time.Time, res *Result) ([]bool, error) {
	keep := make([]bool, len(reqs))
	seen := map[boundKey]bool{}
	var keys []boundKey
	for i, r := range reqs {
		if r.key.kind == QuarantineOperator {
			keep[i] = true
			continue
		}
		if !seen[r.key] {
			seen[r.key] = true
			keys = append(keys, r.key)
		}
	}
	if len(keys) == 0 {
		return keep, nil
	}
	bt, ok := t.(boundTxn)
	if !ok {
		return nil, fmt.Errorf("hq: quarantine: %T keeps no bound", t)
	}
	sort.Slice(keys, func(i, j int) bool { return boundLess(keys[i], keys[j]) })
	states, err := bt.bounds(ctx, keys)
	if err != nil {
		return nil, fmt.Errorf("quarantine bound: %w", err)
	}
	drops := map[boundKey]*Drop{}
	for i, r := range reqs {
		if keep[i] {
			continue
		}
		s := states[r.key]
		// A transaction that waited for the lock may come with a time a little before the
		// window's start, set by one that took the lock first: still that window. Only a
		// clock set back by a window or more starts another.
		if s.WindowStart.IsZero() || now.Sub(s.WindowStart) >= lim.Window || s.WindowStart.Sub(now) >= lim.Window {
			s.WindowStart, s.Records, s.Bytes, s.WindowDropped = now, 0, 0, 0
		}
		over := s.WindowDropped > 0 || lim.Records > 0 && s.Records+1 > lim.Records || lim.Bytes > 0 && s.Bytes+r.size > lim.Bytes
		if !over {
			s.Records++
			s.Bytes += r.size
			keep[i] = true
		} else {
			d := drops[r.key]
			if d == nil {
				d = &Drop{TillKey: r.key.TillKey, Kind: r.key.kind, First: s.WindowDropped == 0, Until: s.WindowStart.Add(lim.Window)}
				drops[r.key] = d
			}
			s.Dropped++
			s.WindowDropped++
			s.LastDropped = now
			d.Dropped++
			d.Total = s.Dropped
		}
		states[r.key] = s
	}
	if err := bt.setBounds(ctx, states); err != nil {
		return nil, fmt.Errorf("quarantine bound: %w", err)
	}
	for _, k := range keys {
		if d := drops[k]; d != nil {
			res.Dropped = append(res.Dropped, *d)
		}
	}
	return keep, nil
}

// boundReader is a store that can list its quarantine's bound.
type boundReader interface {
	quarantineBounds(ctx context.Context) ([]QuarantineBound, error)
}

// QuarantineBounds lists what st counted of each till and kind, sorted by till and kind.
func QuarantineBounds(ctx context.Context, st Store) ([]QuarantineBound, error) {
	br, ok := st.(boundReader)
	if !ok {
		return nil, fmt.Errorf("hq: quarantine bound: %T keeps none", st)
	}
	out, err := br.quarantineBounds(ctx)
	if err != nil {
		return nil, fmt.Errorf("hq: quarantine bound: %w", err)
	}
	sort.Slice(out, func(i, j int) bool {
		return boundLess(boundKey{TillKey{out[i].Store, out[i].Till}, out[i].Kind}, boundKey{TillKey{out[j].Store, out[j].Till}, out[j].Kind})
	})
	return out, nil
}

func (s boundState) public(k boundKey) QuarantineBound {
	b := QuarantineBound{Store: k.Store, Till: k.Till, Kind: k.kind, WindowStart: s.WindowStart, Records: s.Records, Bytes: s.Bytes,
		Dropped: s.Dropped}
	if !s.LastDropped.IsZero() {
		at := s.LastDropped
		b.LastDropped = &at
	}
	return b
}

// Finding is a message HQ refused and kept in its quarantine, for the fleet's events.
type Finding struct {
	TillKey
	Kind   string // one of QuarantineKinds
	Detail string
}

// RecordRefused records a message HQ refused from till k (it did not decode, was not
// signed by the till's key, ...): an event of kind "refused" (within FleetView.EventRate)
// and a count on the till that raises AlertRefused.
func (v *FleetView) RecordRefused(f Finding) {
	if f.Till == "" {
		return // no till to hold it against; the quarantine and the log have it
	}
	now := v.now()
	v.mu.Lock()
	defer v.mu.Unlock()
	ts, ok := v.tills[f.TillKey]
	if !ok {
		ts = TillStatus{TillKey: f.TillKey, FirstSeen: now}
	}
	ts.Refused++
	ts.LastRefused = &now
	v.tills[f.TillKey] = ts
	if v.store != nil {
		v.fail(v.store.PutDevice(context.Background(), ts))
	}
	if v.admit(f.TillKey, now) {
		v.addEvent(FleetEvent{TillKey: f.TillKey, Source: "hq", Received: now,
			Event: wire.Event{Kind: "refused", Severity: "error", Detail: f.Kind + ": " + f.Detail, At: now}})
	}
}

// RecordQuarantineFull records that till k passed the quarantine's bound for a kind: an
// event of kind "quarantine-full" (one per till, kind and window: Drop.First) and the
// count on the till that raises AlertQuarantineFull.
func (v *FleetView) RecordQuarantineFull(d Drop) {
	if d.Till == "" {
		return
	}
	now := v.now()
	v.mu.Lock()
	defer v.mu.Unlock()
	ts, ok := v.tills[d.TillKey]
	if !ok {
		ts = TillStatus{TillKey: d.TillKey, FirstSeen: now}
	}
	ts.QuarantineDropped += uint64(d.Dropped)
	ts.LastDropped = &now
	v.tills[d.TillKey] = ts
	if v.store != nil {
		v.fail(v.store.PutDevice(context.Background(), ts))
	}
	if d.First {
		v.addEvent(FleetEvent{TillKey: d.TillKey, Source: "hq", Received: now, Event: wire.Event{Kind: "quarantine-full", Severity: "error",
			At: now, Detail: fmt.Sprintf("%s: over the quarantine's bound; HQ keeps no more of this till and kind until %s and counts what it drops",
				d.Kind, d.Until.UTC().Format(time.RFC3339))}})
	}
}
