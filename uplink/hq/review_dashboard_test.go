package hq_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"tillbox/ledger/journal"
	"tillbox/uplink/hq"
)

// The dashboard lists the stock documents to verify, reads them at most once a
// ReviewsEvery however often the page refreshes, and says so when they cannot be read.
func TestDashboardShowsTheDocumentsToVerify(t *testing.T) {
	now := time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC)
	calls := 0
	var fail error
	d := &hq.Dashboard{View: hq.NewFleetView("tillbox/v1"), Now: func() time.Time { return now }, ReviewsEvery: time.Minute,
		Reviews: func(context.Context) ([]hq.Review, error) {
			calls++
			if fail != nil {
				return nil, fail
			}
			return []hq.Review{{TillKey: hq.TillKey{Store: "s042", Till: "t03"}, Seq: 17, Receipt: "S042-T03-000012",
				Central: "S042-000345", Kind: journal.KindStockTransfer, At: now.Add(-time.Hour), Order: "PO-77", Over: []string{"1001", "2002"}}}, nil
		}}
	page := func() string {
		w := httptest.NewRecorder()
		d.ServeHTTP(w, httptest.NewRequest("GET", "/", nil))
		return w.Body.String()
	}
	body := page()
	for _, want := range []string{`id="to-verify"`, "S042-T03-000012", "S042-000345", "stock-transfer", "PO-77", "1001, 2002"} {
		if !strings.Contains(body, want) {
			t.Fatalf("the page lacks %q:\n%s", want, body)
		}
	}
	page()
	if calls != 1 {
		t.Fatalf("two pages within a minute read the documents %d times, want once", calls)
	}
	fail = errors.New("store unreachable")
	now = now.Add(2 * time.Minute)
	if body := page(); calls != 2 || !strings.Contains(body, "could not be read: store unreachable") {
		t.Fatalf("after a minute, with the store failing (%d reads):\n%s", calls, body)
	}
}
