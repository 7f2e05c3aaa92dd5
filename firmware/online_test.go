package main

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"tillbox/ledger"
	"tillbox/uplink/hq"
)

// TestSalesReachTheEmbeddedHQ runs the till with its defaults (the embedded head office:
// an in-process broker and consumer), sells, and checks that HQ stored every entry exactly
// once and acknowledged them: the watermark equals the last seq, the sales were written
// online, and a second run with nothing new sends nothing twice.
func TestSalesReachTheEmbeddedHQ(t *testing.T) {
	bin := buildTillbox(t)
	data := t.TempDir()
	script := `
synced
signon 1 1234
scan 5901234123457
key SUBTOTAL CASH
drawer close
scan 8711000530085
key SUBTOTAL CARD ENTER
key SYNC
drain
synced
wait 1200ms
`
	events := runScript(t, bin, data, "", script)
	var notices []string
	for _, e := range events {
		if e["t"] == "notice" {
			notices = append(notices, fmt.Sprint(e["lines"]))
		}
	}
	// The operator is told when the till is online and when the sync they asked for is done.
	if all := strings.Join(notices, "\n"); !strings.Contains(all, "back online") || !strings.Contains(all, "sync complete") {
		t.Fatalf("notices: %q", notices)
	}
	runScript(t, bin, data, "", "synced\n")

	l, err := ledger.Open(ledgerFile(data), &ledger.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	st, _ := l.Stats()
	if st.Watermark != st.LastSeq || st.Backlog != 0 {
		t.Fatalf("till: watermark %d, last seq %d", st.Watermark, st.LastSeq)
	}
	sale, err := l.ByReceipt("S001-T01-000001")
	if err != nil || sale.Offline {
		t.Fatalf("a sale made with HQ reachable: %+v, %v", sale, err)
	}

	store, err := hq.OpenBolt(filepath.Join(data, hqFile))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	ctx := context.Background()
	k := hq.TillKey{Store: "s001", Till: "t01"}
	through, err := store.Through(ctx, k)
	if err != nil || through != st.LastSeq {
		t.Fatalf("HQ holds through %d, the till wrote %d: %v", through, st.LastSeq, err)
	}
	var n uint64
	err = store.Entries(ctx, k, 0, func(r hq.Record) error {
		n++
		if r.Seq != n {
			t.Fatalf("HQ entry %d where %d was expected", r.Seq, n)
		}
		return nil
	})
	if err != nil || n != st.LastSeq {
		t.Fatalf("HQ has %d entries, the till %d: %v", n, st.LastSeq, err)
	}
	rec, err := store.Lookup(ctx, "S001-T01-000001")
	if err != nil || rec.Seq != sale.Seq {
		t.Fatalf("HQ lookup of the receipt: %+v, %v", rec, err)
	}
}
