package main

import (
	"crypto/ed25519"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"tillbox/firmware/config"
	"tillbox/firmware/till"
	"tillbox/image/bundle"
	"tillbox/image/update"
	"tillbox/ledger"
	"tillbox/ledger/journal"
)

// updateCmd installs a signed bundle into the inactive slot for one try at the next boot.
// It needs the ledger to itself (to see that no sale is open), so on a running box the
// stage-1 init runs it between two runs of the till, or a technician stops the till first.
// It never reboots: the caller does, once this returned without error.
//
// With --report TEXT it journals an update entry instead (the stage-1 init's report of a
// try confirmed or rolled back), which reaches head office like every entry.
func updateCmd(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("update", flag.ContinueOnError)
	layoutPath := fs.String("layout", update.LayoutFile, "the box's slots and boot state, as the stage-1 init wrote them")
	cfgPath := fs.String("config", "", "configuration file (for the board and the data directory)")
	data := fs.String("data", "", "data directory (overrides the config's)")
	keys := fs.String("keys", "", "trusted update keys (default: the layout's)")
	retry := fs.Bool("retry", false, "install a version whose try failed before")
	report := fs.String("report", "", "journal this update outcome instead of installing")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *report != "" {
		cfg, err := config.Load(*cfgPath)
		if err != nil {
			return err
		}
		if *data != "" {
			cfg.Data = *data
		}
		return journalUpdate(cfg, *report, stdout)
	}
	if fs.NArg() != 1 {
		return fmt.Errorf("%w: update needs one bundle file", errUsage)
	}
	cfg, err := config.Load(*cfgPath)
	if err != nil {
		return err
	}
	if *data != "" {
		cfg.Data = *data
	}
	var trusted []ed25519.PublicKey
	if *keys != "" {
		if trusted, err = bundle.ReadPublic(*keys); err != nil {
			return err
		}
	}
	res, err := update.InstallFile(*layoutPath, fs.Arg(0), update.Options{
		Trusted: trusted, Board: cfg.Board, Running: version, Retry: *retry,
		OpenSale: func() (bool, error) { return openSale(ledgerFile(cfg.Data)) },
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "update: %s written to slot %s (%d bytes, read back and verified, %s); it is tried once at the next boot\n",
		res.Version, res.Slot, res.Bytes, res.Duration.Round(1e6))
	return nil
}

// openSale reports whether the ledger holds an open sale. A till that has never run has no
// ledger and so no sale.
func openSale(path string) (bool, error) {
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	l, err := ledger.Open(path, &ledger.Options{ReadOnly: true})
	if err != nil {
		return false, fmt.Errorf("the ledger is not free (is the till running?): %w", err)
	}
	defer l.Close()
	_, err = l.Record(till.BucketTill, till.KeyOpenSale)
	switch {
	case errors.Is(err, ledger.ErrNotFound):
		return false, nil
	case err != nil:
		return false, err
	}
	return true, nil
}

// journalUpdate appends an update entry to the ledger.
func journalUpdate(cfg *config.Config, text string, stdout io.Writer) error {
	l, err := ledger.Open(ledgerFile(cfg.Data), &ledger.Options{Store: cfg.Store, Till: cfg.Till})
	if err != nil {
		return err
	}
	defer l.Close()
	res, err := l.Append(journal.Entry{Kind: journal.KindUpdate, Reason: text})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "update: journaled as seq %d: %s\n", res.Entry.Seq, text)
	return l.Close()
}
