package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"tillbox/firmware/app"
	"tillbox/ledger"
)

// ledgerFile is where a till keeps its ledger inside its data directory.
func ledgerFile(dataDir string) string { return filepath.Join(dataDir, "till.ledger") }

// ledgerCmd is the technician's ledger tool. It opens the ledger read-only, so it never
// changes a file it is asked to inspect. While a till holds the ledger, stats and verify
// are answered by that till over its control socket; export refuses.
func ledgerCmd(args []string, stdout io.Writer) error {
	if len(args) == 0 {
		return fmt.Errorf("%w: ledger needs verify, export or stats", errUsage)
	}
	sub := args[0]
	fs := flag.NewFlagSet("ledger "+sub, flag.ContinueOnError)
	data := fs.String("data", defaultDataDir(), "data directory")
	file := fs.String("ledger", "", "ledger file (default DATA/till.ledger)")
	out := fs.String("o", "", "export: write to this file instead of standard output")
	asJSON := fs.Bool("json", false, "stats, verify: one JSON object instead of text")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if sub != "verify" && sub != "stats" && sub != "export" {
		return fmt.Errorf("%w: unknown ledger command %q", errUsage, sub)
	}
	path := *file
	if path == "" {
		path = ledgerFile(*data)
	}
	l, err := ledger.Open(path, &ledger.Options{ReadOnly: true})
	if errors.Is(err, ledger.ErrInUse) && sub != "export" {
		return askRunningTill(path, sub, *asJSON, stdout, err)
	}
	if err != nil {
		if sub == "verify" && *asJSON {
			return printVerify(stdout, path, "", ledger.Report{}, err, true)
		}
		return err
	}
	defer l.Close()
	switch sub {
	case "verify":
		rep, err := l.Verify()
		return printVerify(stdout, path, "", rep, err, *asJSON)
	case "stats":
		s, err := l.Stats()
		if err != nil {
			return err
		}
		return printStats(stdout, s, "", *asJSON)
	}
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

// askRunningTill answers stats or verify through the till that holds the ledger. inUse is
// the error the ledger gave; it is returned, with why the till did not answer, when no till
// answers.
func askRunningTill(path, sub string, asJSON bool, stdout io.Writer, inUse error) error {
	dir := filepath.Dir(path)
	req := app.RequestStats
	if sub == "verify" {
		req = app.RequestVerify
	}
	rep, err := app.AskRunning(dir, req)
	if errors.Is(err, app.ErrNoRunningTill) {
		return fmt.Errorf("%w (%v)", inUse, err)
	}
	via := "the running till (" + filepath.Join(dir, app.ControlSocket) + ")"
	if sub == "verify" {
		var r ledger.Report
		if rep.Verify != nil {
			r = *rep.Verify
		}
		return printVerify(stdout, path, via, r, err, asJSON)
	}
	if err != nil {
		return err
	}
	return printStats(stdout, *rep.Stats, via, asJSON)
}

// statsJSON is `tillbox ledger stats --json`.
type statsJSON struct {
	Store          string     `json:"store"`
	Till           string     `json:"till"`
	Entries        int        `json:"entries"`
	FirstSeq       uint64     `json:"first_seq"`
	LastSeq        uint64     `json:"last_seq"`
	Watermark      uint64     `json:"watermark"`
	Backlog        uint64     `json:"backlog"`
	OldestUnsynced *time.Time `json:"oldest_unsynced"` // null when nothing is unsynced
	PendingJobs    int        `json:"pending_jobs"`
	FileBytes      int64      `json:"file_bytes"`
	AnsweredBy     string     `json:"answered_by"` // "file", or the running till's socket
}

func printStats(w io.Writer, s ledger.Stats, via string, asJSON bool) error {
	if asJSON {
		j := statsJSON{Store: s.Store, Till: s.Till, Entries: s.Entries, FirstSeq: s.FirstSeq, LastSeq: s.LastSeq,
			Watermark: s.Watermark, Backlog: s.Backlog, PendingJobs: s.PendingJobs, FileBytes: s.FileBytes, AnsweredBy: "file"}
		if !s.OldestUnsynced.IsZero() {
			t := s.OldestUnsynced.UTC()
			j.OldestUnsynced = &t
		}
		if via != "" {
			j.AnsweredBy = via
		}
		return writeJSON(w, j)
	}
	oldest := "none"
	if !s.OldestUnsynced.IsZero() {
		oldest = s.OldestUnsynced.Format(time.RFC3339)
	}
	fmt.Fprintf(w, "till         %s/%s\nentries      %d (seq %d..%d)\nacknowledged through seq %d\nunsynced     %d (oldest %s)\nprint jobs   %d pending\nfile         %d bytes\n",
		s.Store, s.Till, s.Entries, s.FirstSeq, s.LastSeq, s.Watermark, s.Backlog, oldest, s.PendingJobs, s.FileBytes)
	if via != "" {
		fmt.Fprintf(w, "answered by  %s\n", via)
	}
	return nil
}

// verifyJSON is `tillbox ledger verify --json`.
type verifyJSON struct {
	Ledger     string `json:"ledger"`
	OK         bool   `json:"ok"`
	Entries    int    `json:"entries,omitempty"`
	FirstSeq   uint64 `json:"first_seq,omitempty"`
	LastSeq    uint64 `json:"last_seq,omitempty"`
	LastHash   string `json:"last_hash,omitempty"`
	Error      string `json:"error,omitempty"`
	BadSeq     uint64 `json:"bad_seq,omitempty"` // the entry at fault, when the chain is broken at one
	AnsweredBy string `json:"answered_by"`
}

// printVerify reports a verify's outcome; a failed verify is also returned as the error,
// so the command exits non-zero with or without --json.
func printVerify(w io.Writer, path, via string, rep ledger.Report, verr error, asJSON bool) error {
	if asJSON {
		j := verifyJSON{Ledger: path, OK: verr == nil, AnsweredBy: "file"}
		if via != "" {
			j.AnsweredBy = via
		}
		if verr == nil {
			j.Entries, j.FirstSeq, j.LastSeq, j.LastHash = rep.Entries, rep.FirstSeq, rep.LastSeq, rep.LastHash
		} else {
			j.Error = verr.Error()
			var ve *ledger.VerifyError
			if errors.As(verr, &ve) {
				j.BadSeq = ve.Seq
			}
		}
		if err := writeJSON(w, j); err != nil {
			return err
		}
		return verr
	}
	if verr != nil {
		return verr
	}
	fmt.Fprintf(w, "ledger %s: OK: %d entries, seq %d..%d, chain intact (last hash %.16s)\n",
		path, rep.Entries, rep.FirstSeq, rep.LastSeq, rep.LastHash)
	for _, g := range rep.Gaps {
		fmt.Fprintf(w, "ledger %s: WARNING: seq %d..%d were lost to a rolled-back commit (the chain continues from the witnessed hash %.16s); HQ may hold them\n",
			path, g.From, g.To, g.Hash)
	}
	if via != "" {
		fmt.Fprintf(w, "answered by %s\n", via)
	}
	return nil
}

func writeJSON(w io.Writer, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("ledger: %w", err)
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

func defaultDataDir() string {
	if d := os.Getenv("TILLBOX_DATA"); d != "" {
		return d
	}
	return "/data/tillbox"
}
