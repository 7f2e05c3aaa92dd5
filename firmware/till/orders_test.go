package till

import (
	"encoding/json"
	"slices"
	"testing"

	"tillbox/ledger/journal"
)

// TestStockDocumentFlaggedOnlyBeyondItsOrder: a transfer against order 77 (5 of item 1,
// 2 of item 2) is flagged for review only where it goes beyond what was ordered.
func TestStockDocumentFlaggedOnlyBeyondItsOrder(t *testing.T) {
	cases := []struct {
		name   string
		order  string // typed at the till
		items  string // keys after the reason
		review bool
		over   []string
	}{
		{"exactly the order", "77", "5 QTY 1 PLU 2 QTY 2 PLU", false, nil},
		{"less than ordered", "77", "1 PLU", false, nil},
		{"the order in two lines", "77", "3 QTY 1 PLU 2 QTY 1 PLU", false, nil},
		{"one item beyond", "77", "5 QTY 1 PLU 3 QTY 2 PLU", true, []string{"2"}},
		{"the same item over two lines", "77", "3 QTY 1 PLU 3 QTY 1 PLU", true, []string{"1"}},
		{"an item not on the order", "77", "1 PLU 3 PLU", true, []string{"3"}},
		{"an order unknown here", "78", "1 PLU", true, []string{"1"}},
		{"no order", "", "1 PLU", true, []string{"1"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t).signedOn("1", "1234")
			keys := "MENU 5 ENTER ENTER 1 ENTER 1 ENTER " + tc.items + " ENTER" // no order: the destination is chosen
			if tc.order == "77" {
				keys = "MENU 5 ENTER 77 ENTER 1 ENTER " + tc.items + " ENTER"
			} else if tc.order != "" {
				keys = "MENU 5 ENTER " + tc.order + " ENTER 1 ENTER 1 ENTER " + tc.items + " ENTER"
			}
			h.do(keys)
			e := h.lastDoc()
			var rv documentReview
			if err := json.Unmarshal(e.Data, &rv); err != nil || e.Kind != journal.KindStockTransfer || e.Ref != tc.order {
				t.Fatalf("document %+v %s: %v", e, e.Data, err)
			}
			if rv.Review != tc.review || !slices.Equal(rv.Over, tc.over) {
				t.Fatalf("review %v over %v, want %v %v (%s)", rv.Review, rv.Over, tc.review, tc.over, e.Data)
			}
		})
	}
}
