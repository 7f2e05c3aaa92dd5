package app

import (
	"context"
	"time"

	"tillbox/uplink"
	"tillbox/uplink/identity"
)

// Certificate renewal: a provisioned till whose certificate expires within
// identity.RenewBefore asks head office for a new one once the uplink is up after the
// start, and again a day after each attempt, on its own goroutine: selling never waits on
// it. Each attempt's outcome is logged and written to the events stream ("certificate").
const (
	renewEvery   = 24 * time.Hour
	renewTimeout = 2 * time.Minute // one attempt's wait for HQ's answer
	renewPoll    = 2 * time.Second // how often an attempt waits for the uplink to be up
)

// runRenewals runs until ctx ends; it does nothing on an unprovisioned till or one
// without an uplink.
func (a *App) runRenewals(ctx context.Context) {
	if a.id == nil || a.upOpts == nil {
		return
	}
	var last time.Time
	t := time.NewTicker(renewPoll)
	defer t.Stop()
	for {
		if a.online.Load() && (last.IsZero() || time.Since(last) >= renewEvery) {
			last = time.Now()
			a.renewOnce(ctx)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// renewOnce renews the certificate when it is due and reports the outcome.
func (a *App) renewOnce(ctx context.Context) {
	end, err := a.id.CertNotAfter()
	if err != nil {
		a.log.Warn("certificate", "err", err)
		a.emit("certificate", map[string]any{"err": err.Error()})
		return
	}
	if !a.id.RenewDue(time.Now(), identity.RenewBefore) {
		a.log.Info("certificate", "until", end, "renewal", "not due")
		return
	}
	rctx, cancel := context.WithTimeout(ctx, renewTimeout)
	defer cancel()
	cert, err := uplink.RenewCertificate(rctx, *a.upOpts, a.id, a.cfg.Store, a.cfg.Till)
	if err != nil {
		if ctx.Err() != nil {
			return
		}
		a.log.Warn("certificate renewal failed; tried again in a day", "until", end, "err", err)
		a.emit("certificate", map[string]any{"renewed": false, "until": end, "err": err.Error()})
		return
	}
	serial := cert.SerialNumber.Text(16)
	a.log.Info("certificate renewed", "serial", serial, "until", cert.NotAfter, "was_until", end)
	a.emit("certificate", map[string]any{"renewed": true, "serial": serial, "until": cert.NotAfter})
}
