package hq

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"tillbox/ledger/journal"
	"tillbox/uplink/wire"
)

// EventReviewResolved is the event that marks a flagged stock document as verified; its
// detail is the document's receipt number, then ": " and who resolved it and why.
const EventReviewResolved = "review-resolved"

// Review is a stock document (a transfer or an internal release) its till flagged for
// review: it went beyond its order, or named no order the till knew.
type Review struct {
	TillKey
	Seq     uint64
	Receipt string // the number the till printed: the review's id
	Central string
	Kind    journal.Kind
	At      time.Time
	Order   string   // as typed at the till, "" none
	Over    []string // the items beyond the order
}

// ToVerify lists the flagged stock documents no EventReviewResolved names yet, in till and
// seq order. It reads every stored entry of every till.
func ToVerify(ctx context.Context, st Store, fs FleetStore) ([]Review, error) {
	resolved := map[TillKey]map[string]bool{}
	evs, err := fs.Events(ctx, EventQuery{Kind: EventReviewResolved})
	if err != nil {
		return nil, fmt.Errorf("hq: review: %w", err)
	}
	for _, e := range evs {
		if resolved[e.TillKey] == nil {
			resolved[e.TillKey] = map[string]bool{}
		}
		resolved[e.TillKey][receiptOf(e.Event.Detail)] = true
	}
	tills, err := st.Tills(ctx)
	if err != nil {
		return nil, fmt.Errorf("hq: review: %w", err)
	}
	var out []Review
	for _, t := range tills {
		err := st.Entries(ctx, t.TillKey, 0, func(r Record) error {
			if r.Receipt == "" || resolved[r.TillKey][r.Receipt] {
				return nil
			}
			var e journal.Entry
			if json.Unmarshal(r.Raw, &e) != nil || (e.Kind != journal.KindStockTransfer && e.Kind != journal.KindInternalRelease) {
				return nil
			}
			var d struct {
				Order  string   `json:"order"`
				Review bool     `json:"review"`
				Over   []string `json:"over"`
			}
			if json.Unmarshal(e.Data, &d) != nil || !d.Review {
				return nil
			}
			out = append(out, Review{TillKey: r.TillKey, Seq: r.Seq, Receipt: r.Receipt, Central: r.Central, Kind: e.Kind, At: e.At,
				Order: d.Order, Over: d.Over})
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("hq: review: %w", err)
		}
	}
	return out, nil
}

// ResolveReview records that the flagged document receipt was verified, by whom and why.
func ResolveReview(ctx context.Context, fs FleetStore, r Review, note string, now time.Time) error {
	detail := r.Receipt
	if note != "" {
		detail += ": " + note
	}
	ev := FleetEvent{TillKey: r.TillKey, Source: "hq", Received: now,
		Event: wire.Event{Kind: EventReviewResolved, Severity: wire.SeverityInfo, Detail: detail, At: now}}
	if err := fs.AddEvent(ctx, ev); err != nil {
		return fmt.Errorf("hq: review: resolve %s: %w", r.Receipt, err)
	}
	return nil
}

func receiptOf(detail string) string {
	for i := 0; i+1 < len(detail); i++ {
		if detail[i] == ':' && detail[i+1] == ' ' {
			return detail[:i]
		}
	}
	return detail
}
