package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"tillbox/ledger"
)

// runCmd is the till's main job: it opens the ledger, journals the power-up and runs until
// it is told to stop.
func runCmd(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	data := fs.String("data", defaultDataDir(), "data directory (ledger, config, keys)")
	store := fs.String("store", "s001", "store id")
	till := fs.String("till", "t01", "till id")
	if err := fs.Parse(args); err != nil {
		return err
	}
	l, err := ledger.Open(ledgerFile(*data), &ledger.Options{Store: *store, Till: *till})
	if err != nil {
		return err
	}
	defer l.Close()
	if _, err := l.Verify(); err != nil {
		var ve *ledger.VerifyError
		if errors.As(err, &ve) {
			l.Append(ledger.Entry{Kind: ledger.KindIntegrityError, Reason: ve.Error()})
		}
		return err
	}
	r, err := l.Append(ledger.Entry{Kind: ledger.KindPowerUp, Reason: "tillbox " + version})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "tillbox %s: till %s/%s, ledger %s, power-up journaled as seq %d\n",
		version, l.Store(), l.Till(), l.Path(), r.Entry.Seq)
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	<-sig
	return nil
}
