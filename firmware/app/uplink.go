package app

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"tillbox/firmware/config"
	"tillbox/uplink"
	"tillbox/uplink/identity"
	"tillbox/uplink/wire"
)

// startUplink starts the uplink to the broker at o.Broker, or the configured one. With no
// broker the till runs offline: it journals and prints, and exports by USB stick.
func (a *App) startUplink(o Options) error {
	u := a.cfg.Uplink
	broker := u.Broker
	if o.Broker != "" {
		broker = o.Broker
	}
	if broker == "" {
		return nil
	}
	uo := uplinkOptions(u, broker)
	uo.Info, uo.Logger = a.uplinkInfo, a.log.With("part", "uplink")
	uo.Commands = map[string]uplink.CommandFunc{wire.CmdUpdate: a.updateCommand}
	a.fleet = newFleetUpdater(a)
	uo.Desired = a.fleet.desired
	if a.id != nil {
		// A provisioned till trusts only HQ's signed catalogs, commands and acks, and shows the
		// broker its own certificate: its name is what the broker's ACL confines it by.
		uo.HQKey = a.id.HQKey
		if uo.HQKey != nil && u.Embedded {
			// The embedded HQ has no signing key: its acks are refused with an event and
			// the sales stay in the backlog, safe, until a real HQ acknowledges them.
			a.log.Warn("uplink: HQ's key is installed, so this till takes only signed acks, which the embedded HQ cannot give")
		}
		if strings.HasPrefix(broker, "ssl://") {
			if a.id.TLS == nil {
				return fmt.Errorf("uplink: broker %s needs TLS, but no certificate is installed in %s (tillbox provision --cert)", broker, a.id.Dir)
			}
			uo.TLS = a.id.TLS
		}
	} else if strings.HasPrefix(broker, "ssl://") {
		return fmt.Errorf("uplink: broker %s needs TLS: provision this till first (tillbox provision)", broker)
	}
	up, err := uplink.New(a.led, uo)
	if err != nil {
		return err
	}
	a.up, a.upOpts = up, uo
	return nil
}

// uplinkOptions are the uplink's options from the configuration: the broker, the session's
// identity and the timings (a zero timing takes the uplink's default).
func uplinkOptions(u config.Uplink, broker string) *uplink.Options {
	return &uplink.Options{
		Broker: broker, Prefix: u.Prefix, Username: u.Username, Password: u.Password,
		ResendAfter: u.ResendAfter.Duration, BackoffMin: u.BackoffMin.Duration, BackoffMax: u.BackoffMax.Duration,
		OfflineAfter: u.OfflineAfter.Duration, TxQoS0: u.TxQoS0,
	}
}

// runUplink runs the uplink until ctx ends.
func (a *App) runUplink(ctx context.Context) {
	if a.up != nil {
		a.up.Run(ctx)
	}
}

// loadIdentity reads the keys `tillbox provision` wrote to the data directory. A till that
// was never provisioned runs without them (the sim, a laptop): unsigned entries, plain
// MQTT, unsigned catalogs accepted.
func (a *App) loadIdentity() error {
	id, err := identity.Load(identity.KeyDir(a.cfg.Data))
	if errors.Is(err, identity.ErrNotProvisioned) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("the till's keys do not load; call a technician: %w", err)
	}
	a.id = id
	a.log.Info("identity", "device", id.PublicKey, "tls", id.TLS != nil, "hq_key", id.HQKey != nil)
	return nil
}

// signer signs journal entries with the device key, or is nil on an unprovisioned till.
func (a *App) signer() func([]byte) ([]byte, error) {
	if a.id == nil {
		return nil
	}
	return a.id.Sign
}

// uplinkInfo is what the fleet sees of this box.
func (a *App) uplinkInfo() uplink.Info {
	info := uplink.Info{Version: a.version, Slot: strings.ToLower(a.slot), Board: a.cfg.Board}
	for _, h := range a.set.Health() {
		info.Devices = append(info.Devices, wire.Device{Name: h.Name, State: h.State, Detail: h.Detail})
	}
	return info
}

// syncState refreshes what the till knows of the uplink: online or not, and a catalog from
// HQ newer than the one in use.
func (a *App) syncState() {
	if a.up == nil {
		return
	}
	st := a.up.State()
	if was := a.online.Swap(st.Online); was != st.Online {
		a.emit("uplink", map[string]any{"online": st.Online, "watermark": st.Watermark})
		if st.Online {
			a.setNotice("back online", a.syncLine())
		} else if was {
			a.setNotice("! offline: sales are kept and sent later", st.LastError)
		}
	}
	if a.syncing && st.Online && st.Watermark == st.LastSeq {
		a.syncing = false
		a.setNotice("sync complete", fmt.Sprintf("head office holds all %d entries", st.LastSeq))
	}
	if cat := a.up.Catalog(); cat != nil && int64(cat.Version) > a.eng.Catalog().Version && int64(cat.Version) != a.refusedCatalog {
		if cat.Currency != a.cfg.Currency {
			// Prices in another currency would print as this till's: keep selling from the
			// catalog in force and say why the new one is not used.
			a.refusedCatalog = int64(cat.Version)
			why := fmt.Sprintf("catalog %d refused: prices in %s, this till sells in %s", cat.Version, cat.Currency, a.cfg.Currency)
			a.log.Warn("catalog", "why", why)
			a.emit("catalog-refused", map[string]any{"version": cat.Version, "why": why})
			a.setNotice("! "+why, "")
			a.alert(wire.EventCatalogRejected, wire.SeverityWarning, why)
			return
		}
		a.eng.SetCatalog(fromWire(cat))
		a.emit("catalog", map[string]any{"version": cat.Version})
	}
}

// setNotice says what the uplink did. The simulator's sync line always shows it; the
// operator display only when it overwrites nothing the cashier needs: when it shows the
// engine's resting prompt or an earlier sync message.
func (a *App) setNotice(line1, line2 string) {
	a.emit("notice", map[string]any{"lines": [2]string{line1, line2}})
	a.screen.SetNotice(line1)
	if a.eng == nil || a.eng.Sale() != nil {
		return
	}
	cur := a.screen.View().Operator[0]
	if cur == fitOperator(a.eng.Prompt(), operatorWidth)[0] || a.screen.IsNotice(cur) {
		a.setOperator([2]string{line1, line2})
		a.screen.MarkNotice(fitOperator([2]string{line1, line2}, operatorWidth)[0])
	}
}

// syncLine is the operator's view of the sync: state and progress of the current sync.
func (a *App) syncLine() string {
	if a.up == nil {
		return "OFFLINE (no uplink configured)"
	}
	st := a.up.State()
	state := "OFFLINE"
	if st.Online {
		state = "ONLINE"
	}
	p := st.Progress
	line := fmt.Sprintf("%s  sync %d sent, %d acknowledged of %d", state, p.Sent, p.Acked, p.Total)
	if n := a.screen.View().Notice; n != "" {
		line += "  (" + n + ")"
	}
	return line
}

// alert tells the fleet about a device problem, when there is an uplink.
func (a *App) alert(kind, severity, detail string) {
	if a.up != nil {
		a.up.Alert(wire.Event{Kind: kind, Severity: severity, Detail: detail})
	}
}

// notifyUplink tells the uplink the ledger has a new entry.
func (a *App) notifyUplink() {
	if a.up != nil {
		a.up.Notify()
	}
}

// syncNow is the SYNC key.
func (a *App) syncNow() {
	if a.up == nil {
		a.setOperator([2]string{"! no uplink configured", "export with: tillbox ledger export"})
		return
	}
	a.up.SyncNow()
	a.syncing = true
	l := [2]string{"sync started", a.syncLine()}
	if !a.up.State().Online {
		l = [2]string{"sync: head office not reachable", "sales are kept and sent once online"}
	}
	a.setOperator(l)
	a.screen.MarkNotice(l[0])
}
