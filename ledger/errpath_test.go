package ledger

import (
	"context"
	"os"
	"testing"

	"tillbox/ledger/journal"
)

// TestEveryErrorNamesTheFile: the operator's display and the log show the error alone, so
// each one says which ledger file it concerns.
func TestEveryErrorNamesTheFile(t *testing.T) {
	l := newLedger(t)
	path := l.Path()
	mustAppend(t, l, realisticSale(1))
	_, errAppendKind := l.Append(journal.Entry{Kind: "gift"})
	_, errAppendSide := l.Append(realisticSale(2), PrintJob([]byte("{oops")))
	_, errConfirm := l.Confirm(99)
	_, errGet := l.Get(42)
	_, errReceipt := l.ByReceipt("S042-T03-000042")
	errUpdate := l.Update(JobStarted(7))
	l.Close()
	editEntry(t, path, 1, func(e *journal.Entry) { e.Cashier = "x" })
	_, errOpen := Open(path, testOpts())
	ro := *testOpts()
	ro.ReadOnly = true
	os.Remove(headPath(path))
	_, errOpenRO := Open(path, &ro)
	_, errAppendClosed := l.Append(realisticSale(3))
	_, errVerifyClosed := l.Verify()
	_, errBackground := l.VerifyInBackground(context.Background())
	_, errStats := l.Stats()
	_, _, errCompact := l.Compact()
	for name, err := range map[string]error{
		"append unknown kind": errAppendKind, "append bad side": errAppendSide, "confirm beyond end": errConfirm,
		"get": errGet, "by receipt": errReceipt, "update": errUpdate, "open damaged": errOpen, "open damaged read-only": errOpenRO,
		"append closed": errAppendClosed, "verify closed": errVerifyClosed, "background verify closed": errBackground,
		"stats closed": errStats, "compact closed": errCompact,
	} {
		t.Run(name, func(t *testing.T) { wantErrContains(t, err, path) })
	}
	// The verify of a damaged chain names it too.
	l2, err := Open(path+"2", testOpts())
	if err != nil {
		t.Fatal(err)
	}
	mustAppend(t, l2, realisticSale(1))
	mustAppend(t, l2, realisticSale(2))
	l2.Close()
	editEntry(t, path+"2", 1, func(e *journal.Entry) { e.Cashier = "x" })
	l2 = reopen(t, path+"2")
	_, err = l2.Verify()
	wantErrContains(t, err, path+"2", "seq 1")
	_, err = l2.VerifyInBackground(context.Background())
	wantErrContains(t, err, path+"2", "seq 1")
}
