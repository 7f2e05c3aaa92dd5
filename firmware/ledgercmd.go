package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"tillbox/ledger"
)

// ledgerFile is where a till keeps its ledger inside its data directory.
func ledgerFile(dataDir string) string { return filepath.Join(dataDir, "till.ledger") }

// ledgerCmd is the technician's ledger tool. It opens the ledger read-only, so it never
// changes a file it is asked to inspect, and it refuses to run while the till holds it.
func ledgerCmd(args []string, stdout io.Writer) error {
	if len(args) == 0 {
		return fmt.Errorf("%w: ledger needs verify, export or stats", errUsage)
	}
	sub := args[0]
	fs := flag.NewFlagSet("ledger "+sub, flag.ContinueOnError)
	data := fs.String("data", defaultDataDir(), "data directory")
	file := fs.String("ledger", "", "ledger file (default DATA/till.ledger)")
	out := fs.String("o", "", "export: write to this file instead of standard output")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	path := *file
	if path == "" {
		path = ledgerFile(*data)
	}
	l, err := ledger.Open(path, &ledger.Options{ReadOnly: true})
	if err != nil {
		return err
	}
	defer l.Close()
	switch sub {
	case "verify":
		rep, err := l.Verify()
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "ledger %s: OK: %d entries, seq %d..%d, chain intact (last hash %.16s)\n",
			path, rep.Entries, rep.FirstSeq, rep.LastSeq, rep.LastHash)
		for _, g := range rep.Gaps {
			fmt.Fprintf(stdout, "ledger %s: WARNING: seq %d..%d were lost to a rolled-back commit (the chain continues from the witnessed hash %.16s); HQ may hold them\n",
				path, g.From, g.To, g.Hash)
		}
		return nil
	case "stats":
		s, err := l.Stats()
		if err != nil {
			return err
		}
		oldest := "none"
		if !s.OldestUnsynced.IsZero() {
			oldest = s.OldestUnsynced.Format(time.RFC3339)
		}
		fmt.Fprintf(stdout, "till         %s/%s\nentries      %d (seq %d..%d)\nacknowledged through seq %d\nunsynced     %d (oldest %s)\nprint jobs   %d pending\nfile         %d bytes\n",
			s.Store, s.Till, s.Entries, s.FirstSeq, s.LastSeq, s.Watermark, s.Backlog, oldest, s.PendingJobs, s.FileBytes)
		return nil
	case "export":
		w := stdout
		if *out != "" {
			f, err := os.OpenFile(*out, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
			if err != nil {
				return fmt.Errorf("ledger export: %w", err)
			}
			defer f.Close()
			w = f
		}
		n, err := l.Export(w)
		if err != nil {
			return err
		}
		if f, ok := w.(*os.File); ok && f != os.Stdout {
			if err := f.Sync(); err != nil {
				return fmt.Errorf("ledger export: %w", err)
			}
			fmt.Fprintf(stdout, "exported %d unsynced entries to %s\n", n, *out)
		}
		return nil
	}
	return fmt.Errorf("%w: unknown ledger command %q", errUsage, sub)
}

func defaultDataDir() string {
	if d := os.Getenv("TILLBOX_DATA"); d != "" {
		return d
	}
	return "/data/tillbox"
}
