package app

import (
	"context"
	"errors"
	"time"

	"tillbox/ledger"
	"tillbox/ledger/journal"
)

// The ledger's upkeep: first upkeepAfter the start, then every upkeepEvery (retention,
// compaction, size), with a full chain verify at most every fullVerifyEvery.
const (
	upkeepAfter     = 2 * time.Minute
	upkeepEvery     = time.Hour
	fullVerifyEvery = 24 * time.Hour
	compactIdle     = 10 * time.Minute
)

// ledgerAtStart acts on what the ledger found when it opened: a rolled-back file is
// journaled (its lost numbers are never reused: the ledger recorded the gap) and alerted
// for a technician; a file near its size limit is alerted.
func (a *App) ledgerAtStart() error {
	if rb := a.led.Rollback(); rb != nil {
		a.log.Error("ledger rolled back", "err", rb, "lost_from", rb.FileSeq+1, "lost_to", rb.HeadSeq)
		if _, err := a.led.Append(journal.Entry{Kind: journal.KindIntegrityError, Reason: rb.Error()}); err != nil {
			return err
		}
		a.emit("warning", map[string]any{"text": rb.Error() + "; call a technician"})
	}
	a.checkLedgerLimit()
	return nil
}

func (a *App) checkLedgerLimit() {
	if _, err := a.led.Limit(); errors.Is(err, ledger.ErrNearLimit) {
		a.log.Error("ledger size", "err", err)
		a.emit("warning", map[string]any{"text": err.Error() + "; call a technician"})
	}
}

// ledgerUpkeep starts upkeepAfter the till is ready (not during an update's health check),
// then every upkeepEvery: it prunes what the retention settings allow, compacts a file
// that is mostly free space, and runs the full chain verify in the background (selling
// goes on) when the last full pass is older than fullVerifyEvery. Each step is logged; a
// failure is also shown as a warning.
func (a *App) ledgerUpkeep(ctx context.Context) {
	next := time.NewTimer(upkeepAfter)
	defer next.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-next.C:
		}
		a.retain(ctx)
		a.fullVerify(ctx)
		next.Reset(upkeepEvery)
	}
}

func (a *App) fullVerify(ctx context.Context) {
	if at, err := a.led.LastFullVerify(); err != nil || time.Since(at) < fullVerifyEvery {
		return
	}
	rep, err := a.led.VerifyInBackground(ctx)
	switch {
	case ctx.Err() != nil:
	case err != nil:
		a.log.Error("ledger verify", "err", err)
		a.emit("warning", map[string]any{"text": "the ledger does not verify; call a technician: " + err.Error()})
	default:
		a.log.Info("ledger verify", "entries", rep.Entries, "last_seq", rep.LastSeq)
	}
}

func (a *App) retain(ctx context.Context) {
	r := a.cfg.Retention
	rep, err := a.led.Retain(ctx, time.Now(), ledger.Retention{Keep: r.Keep.Duration, RefundWindow: r.RefundWindow.Duration,
		LowDiskBytes: uint64(max(r.LowDiskMB, 0)) << 20})
	if err != nil {
		if ctx.Err() == nil {
			a.log.Error("ledger retention", "err", err)
		}
		return
	}
	if rep.LowDisk {
		a.log.Warn("ledger retention: low disk", "free", rep.FreeDisk, "pruned", rep.Pruned)
		a.emit("warning", map[string]any{"text": "the data partition is nearly full; acknowledged sales were pruned"})
	} else if rep.Pruned > 0 {
		a.log.Info("ledger retention", "pruned", rep.Pruned, "anchor", rep.Base)
	}
	// Compaction holds the ledger while it copies: only after compactIdle without a sale.
	if need, _, err := a.led.NeedsCompaction(ledger.CompactPolicy{}); err == nil && need && a.led.Idle() >= compactIdle {
		before, after, err := a.led.Compact()
		if err != nil {
			a.log.Error("ledger compaction", "err", err)
		} else {
			a.log.Info("ledger compaction", "before", before.FileBytes, "after", after.FileBytes)
		}
	}
	a.checkLedgerLimit()
}
