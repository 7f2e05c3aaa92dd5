package main

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"tillbox/ledger/journal"
)

// TestReviewListsAndResolvesDocumentsBeyondTheirOrder: a till's stock documents reach a
// bbolt store; review lists the flagged ones only, resolve takes one off the list (and an
// event records it), and a document not flagged cannot be resolved.
func TestReviewListsAndResolvesDocumentsBeyondTheirOrder(t *testing.T) {
	dir := t.TempDir()
	store := filepath.Join(dir, "hq.db")
	l := openLedgerIn(t, "s042", "t01")
	doc := func(kind journal.Kind, data string) string {
		e, err := l.Append(journal.Entry{Kind: kind, At: time.Now().UTC(), Ref: "77", Reason: "restock",
			Lines: []journal.Line{{Item: "1", Name: "Bread", Qty: 6000}}, Data: []byte(data)})
		if err != nil {
			t.Fatal(err)
		}
		return e.Entry.Receipt
	}
	beyond := doc(journal.KindStockTransfer, `{"order":"77","review":true,"over":["1"]}`)
	within := doc(journal.KindStockTransfer, `{"order":"77","review":false}`)
	release := doc(journal.KindInternalRelease, `{"review":true,"over":["1"]}`)
	appendSales(t, l, nil, 2)
	if code, out, errs := tillhq("import", "--store", store, exportTo(t, l, filepath.Join(dir, "t01.jsonl"))); code != 0 {
		t.Fatalf("import: %d\n%s%s", code, out, errs)
	}
	list := func() string {
		t.Helper()
		code, out, errs := tillhq("review", "--store", store)
		if code != 0 {
			t.Fatalf("review: %d %s", code, errs)
		}
		return out
	}
	out := list()
	if !strings.Contains(out, beyond) || !strings.Contains(out, release) || strings.Contains(out, within) || strings.Count(out, "\n") != 3 {
		t.Fatalf("to verify:\n%s", out)
	}
	if code, out, errs := tillhq("review", "resolve", "--store", store, "--note", "Ewa: counted, 6 sent", beyond); code != 0 || !strings.Contains(out, beyond+" (s042/t01) resolved") {
		t.Fatalf("resolve: %d %s %s", code, out, errs)
	}
	if out := list(); strings.Contains(out, beyond) || !strings.Contains(out, release) {
		t.Fatalf("after resolving %s:\n%s", beyond, out)
	}
	if code, _, errs := tillhq("events", "--store", store, "--kind", "review-resolved"); code != 0 {
		t.Fatalf("events: %s", errs)
	} else if _, evs, _ := tillhq("events", "--store", store, "--kind", "review-resolved"); !strings.Contains(evs, beyond+": Ewa: counted, 6 sent") {
		t.Fatalf("no event records the resolution:\n%s", evs)
	}
	for _, id := range []string{beyond, within} {
		if code, _, errs := tillhq("review", "resolve", "--store", store, id); code != 1 || !strings.Contains(errs, "no document to verify") {
			t.Errorf("resolve %s: %d %s", id, code, errs)
		}
	}
	if code, _, _ := tillhq("review", "frobnicate", "--store", store); code != 2 {
		t.Errorf("review frobnicate: exit %d, want 2", code)
	}
}
