package hq

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"

	"tillbox/uplink/wire"
)

// ImportResult counts what an import did.
type ImportResult struct {
	Lines       int
	Stored      int
	Duplicates  int
	Quarantined int
	Through     map[TillKey]uint64
}

// Import reads a JSON Lines export (ledger.Export: one stored entry per line, the exact
// wire payload) and ingests it as if it had come over MQTT, in batches. It is idempotent:
// importing the same file again stores nothing new. Lines that fail their checks are
// quarantined with the line number in the reason.
func Import(ctx context.Context, st Store, r io.Reader, batch int) (ImportResult, error) {
	return ImportVerified(ctx, st, r, batch, nil)
}

// ImportVerified is Import with the device-key policy of Options.Keys: with keys, a line
// not signed by its till's registered key is quarantined like a forged MQTT message. A
// USB stick is no more trusted than the network.
func ImportVerified(ctx context.Context, st Store, r io.Reader, batch int, keys Keys) (ImportResult, error) {
	if batch <= 0 {
		batch = 1000
	}
	res := ImportResult{Through: map[TillKey]uint64{}}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), wire.MaxTxBytes+1024)
	var b Batch
	flush := func() error {
		if len(b.Entries) == 0 && len(b.Quarantine) == 0 {
			return nil
		}
		r, err := Ingest(ctx, st, b)
		if err != nil {
			return err
		}
		res.Stored += r.Stored
		res.Duplicates += r.Duplicates
		res.Quarantined += r.Quarantined
		for k, v := range r.Through {
			res.Through[k] = v
		}
		b = Batch{}
		return nil
	}
	for sc.Scan() {
		res.Lines++
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		raw := bytes.Clone(line)
		tx, err := wire.DecodeEntry(raw)
		if err == nil {
			err = verifyEntry(keys, &tx)
		}
		if err != nil {
			b.Quarantine = append(b.Quarantine, Quarantine{Source: "import", Reason: fmt.Sprintf("line %d: %v", res.Lines, err), Payload: raw})
		} else {
			b.Entries = append(b.Entries, Incoming{Tx: tx, Source: "import"})
		}
		if len(b.Entries)+len(b.Quarantine) >= batch {
			if err := flush(); err != nil {
				return res, fmt.Errorf("hq: import: %w", err)
			}
		}
	}
	if err := sc.Err(); err != nil {
		// A line too long to be a tx: what came before it is still stored.
		if ferr := flush(); ferr != nil {
			return res, fmt.Errorf("hq: import: %w", ferr)
		}
		return res, fmt.Errorf("hq: import: line %d: %w", res.Lines+1, err)
	}
	if err := flush(); err != nil {
		return res, fmt.Errorf("hq: import: %w", err)
	}
	return res, nil
}
