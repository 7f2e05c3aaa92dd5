package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"

	"tillbox/firmware/app"
	"tillbox/firmware/config"
	"tillbox/ledger"
)

// receiptsCmd lists a till's recent receipts with their sync status, newest first, for a
// technician: from the ledger read-only, or from the running till that holds it. A receipt
// number (full, or its number part) as argument shows that one receipt only.
func receiptsCmd(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("receipts", flag.ContinueOnError)
	data := fs.String("data", defaultDataDir(), "data directory")
	cfgPath := fs.String("config", "", "configuration file (its timezone is used for the times shown)")
	n := fs.Int("n", 20, "how many receipts")
	asJSON := fs.Bool("json", false, "one JSON object per line instead of text")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *n <= 0 || *n > 200 || fs.NArg() > 1 {
		return fmt.Errorf("%w: receipts [--n 1-200] [RECEIPT]", errUsage)
	}
	cfg, err := config.Load(*cfgPath)
	if err != nil {
		return err
	}
	var rs []app.Receipt
	want := *n
	if fs.NArg() == 1 {
		want = 200
	}
	l, err := ledger.Open(ledgerFile(*data), &ledger.Options{ReadOnly: true})
	switch {
	case errors.Is(err, ledger.ErrInUse):
		rep, aerr := app.AskRunning(*data, app.RequestReceipts)
		if aerr != nil {
			return fmt.Errorf("%w (%v)", err, aerr)
		}
		rs = rep.Receipts
	case err != nil:
		return err
	default:
		defer l.Close()
		if rs, err = app.Receipts(l, want, false); err != nil {
			return err
		}
	}
	if fs.NArg() == 1 {
		q := fs.Arg(0)
		var one []app.Receipt
		for _, r := range rs {
			if r.Receipt == q || strings.TrimLeft(r.Receipt[strings.LastIndex(r.Receipt, "-")+1:], "0") == strings.TrimLeft(q, "0") {
				one = append(one, r)
			}
		}
		if len(one) == 0 {
			return fmt.Errorf("receipts: %s is not among the last %d receipts", q, len(rs))
		}
		rs = one
	}
	if len(rs) > *n {
		rs = rs[:*n]
	}
	loc := cfg.Location()
	for _, r := range rs {
		if *asJSON {
			b, _ := json.Marshal(r)
			fmt.Fprintf(stdout, "%s\n", b)
			continue
		}
		total := ""
		if r.Total != nil {
			total = fmt.Sprintf("%d.%02d %s", *r.Total/100, abs(*r.Total%100), r.Currency)
			if *r.Total < 0 && *r.Total > -100 {
				total = "-" + total
			}
		}
		copies := ""
		if r.Copies > 0 {
			copies = fmt.Sprintf("  %d copies", r.Copies)
		}
		fmt.Fprintf(stdout, "%-18s seq %-6d %-14s %s  %14s  %-12s%s\n", r.Receipt, r.Seq, r.Kind, r.At.In(loc).Format(time.DateTime), total, r.Sync, copies)
	}
	if len(rs) == 0 {
		fmt.Fprintf(stdout, "no receipts in %s\n", filepath.Join(*data, "till.ledger"))
	}
	return nil
}

func abs(v int64) int64 {
	if v < 0 {
		return -v
	}
	return v
}
