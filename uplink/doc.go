// Package uplink is the till side of MQTT: it publishes the ledger's unsynced entries to HQ
// and moves the ledger's watermark when HQ acknowledges them.
//
// The package tree holds both ends of the link: the till's client here, head office in
// uplink/hq (its command in uplink/hq/cmd/tillhq), the contract between them in
// uplink/wire, and every MQTT session of either end in uplink/mqttconn.
//
// What it guarantees:
//
//   - The ledger is the outbox. Entries above the watermark are published in seq order,
//     QoS 1, at most Options.Window unacknowledged at a time. While a session is up, an
//     entry is published again only when HQ shows it lacks it: when HQ has not moved the
//     watermark for Options.ResendAfter the till probes (its last entry, once), and
//     publishes again from the watermark when HQ's answer to the probe still leaves
//     entries unacknowledged (a broker that dropped them); a long fallback resends
//     anyway. After a reconnect everything above the watermark is published again, except
//     what the same broker acknowledged (PUBACK) in the last session, which the probe
//     covers.
//   - A fleet that lost its broker comes back spread out: the first attempt after a lost
//     link waits a uniform random time up to Options.ReconnectJitter, later ones a
//     jittered exponential backoff.
//     Nothing is queued in paho (in-memory store, clean session): a till that boots with no
//     network and stays offline for days loses nothing and sends everything once the link
//     is back.
//   - Only HQ's retained ack moves the watermark (ledger.Confirm). A PUBACK means the
//     broker has a message, never that HQ stored it. A till that knows HQ's key
//     (Options.HQKey) takes only acks HQ signed for it, so nobody else on the broker can
//     make an unsent sale count as stored.
//   - Going offline for longer than Options.OfflineAfter and coming back are journaled as
//     technical entries (journal.KindOfflineStart / KindOfflineEnd), once per outage, across
//     restarts.
//   - paho handlers never block: they hand what they received to the run loop through
//     atomics and non-blocking channel sends. Every paho token wait has a timeout (mqttconn.Wait).
//   - Commands carry ids; a repeated id is answered with the remembered result and not run
//     again. A catalog is applied only when valid as a whole and newer than the one in use,
//     persisted in the ledger and swapped atomically; otherwise it is rejected with an
//     event and the old one kept.
//   - RenewCertificate renews the till's TLS certificate with HQ on a session of its own
//     (the uplink keeps running): it installs only a certificate HQ signed for the key it
//     made, and the identity's TLS uses it from the next connection on.
//   - With Options.Desired, the retained desired firmware HQ publishes for this till is
//     handed to the firmware once it decoded and, with HQKey, verified as HQ's for this
//     till; anything else is refused with a refused update report.
//
// The firmware calls New, Run, Notify after each Append, State, SyncNow, Catalog, Alert
// and Events, and RenewCertificate when the identity's RenewDue says so. The package never imports drivers or firmware: what it publishes about the
// box (version, board, devices) comes through Options.Info.
package uplink
