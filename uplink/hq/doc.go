// Package hq is head office as a library: the broker-side consumer that stores each till's
// entries exactly once and acknowledges them, the fleet view and dashboard, and what HQ
// sends the tills (SendCommand, PublishCatalog, PublishAcks). Every session it opens is
// built by package mqttconn; command tillhq only parses flags and prints.
//
// What it guarantees:
//
//   - Entries are stored by (store, till, seq), idempotently: a repeat with the same hash
//     is a duplicate and changes nothing; the same key with another hash is a conflict,
//     quarantined with the reason and never written over what is stored.
//   - A till's acknowledgement watermark (through) is the highest seq such that every
//     entry from 1 to it is stored, the chain links from the genesis prev to it and each
//     document's receipt number is above its till's previous document's. It is
//     advanced inside the same store transaction that stores the entries, and the retained
//     ack is published only after that transaction committed. With Options.SignKey the
//     ack names its till and carries HQ's signature, which a provisioned till requires.
//   - Anything that cannot be stored (not JSON, oversized, another version, an identity
//     differing from its topic, a hash that does not match, a broken chain, a receipt
//     number repeated or skipped, a conflict)
//     goes to the quarantine with its reason and payload, within its bound (below), and
//     what the bound does not keep is counted. Nothing is silently dropped.
//   - The quarantine is bounded per till and kind of reason (QuarantineLimits: records and
//     bytes per window), in the same transaction in both stores: past the bound a record
//     is not kept but counted (QuarantineBounds), the first drop of a window is reported
//     (Result.Dropped) for an event and an alert, and a conflict over the bound raises no
//     alert of its own. Stored entries and operator moves are never bounded.
//   - Only the verified prefix counts as stored: Entries and Lookup never return an entry
//     above its till's watermark. Entries above a gap are held as pending and promoted by
//     the watermark's advance once the gap closes; one that does not link is quarantined.
//   - Each document entry gets a central receipt number per store, in the order HQ
//     verified them; a receipt is found by its till number or its central number.
//   - The quarantine is resolved by an operator (quarantine.go): Accept stores a
//     quarantined entry in place of the held one only when the till's registered device
//     key signs it and not the held one; Evict moves what is held of a till from a seq on
//     to the quarantine, lowering its watermark and retiring those central numbers (never
//     given again); Replay ingests a quarantined entry again and removes it from the
//     quarantine only once exactly it is held. RecordResolution writes each action to the
//     event history with who did it.
//   - Two stores implement this: bbolt (embedded, one process) and PostgreSQL (several
//     consumers on a shared subscription). Both run the same ingest logic (ingest.go).
//     PostgreSQL's schema is versioned: OpenPostgres refuses an older one and Migrate
//     brings it up step by step, keeping what is stored. A batch of new entries goes in
//     with COPY (falling back to an INSERT that sorts new keys from held ones when any
//     key is held), and central numbers are kept as one run per store per commit.
//   - PostgreSQL also keeps a relational projection of the documents (hq_receipts with
//     the payload as jsonb, hq_lines, hq_tenders, hq_taxes, hq_cash_moves,
//     hq_stock_moves; views hq_takings_daily, hq_item_sales, hq_vat_daily), written in
//     the transaction that verifies them, beside their central numbers: pending entries
//     and forgeries never reach it, each verified document is projected exactly once (its
//     primary key refuses a second), an evict removes what it evicts, and
//     RebuildProjection writes it again from the entries. From schema 4 these relations
//     are views over hq_documents, one row per document (lines, tenders and taxes as
//     arrays; from schema 6 also the change given back), which ingest writes from the
//     entries it decoded with one COPY per batch.
//     queries.sql holds the first queries a back office runs; a test checks them.
//   - What HQ sends is signed with Options.SignKey when that is set: a command names its
//     till and expires (SendCommand subscribes to the result before it publishes, so an
//     answer is never missed), a catalog is validated as a whole before it is published,
//     retained, and acks are the consumer's (wire.AckPayload).
//   - Acks go out retained with QoS 0 (the tills subscribe with QoS 0), at most one of
//     each till and maxAcksInFlight in all waiting to be written; a newer ack replaces a
//     waiting one (ackFlow). However slowly the broker reads HQ's socket, HQ holds one
//     ack per till, the newest, and no message id.
//   - Ingest's cost per entry does not grow with the number of tills a batch spans: it
//     runs in named phases (plan, insert, quarantine, advance the watermarks, number the
//     receipts), and each phase is one set-based call of the store for the whole batch.
//     For PostgreSQL the till locks, chain heads, scans, watermarks and central numbers
//     are each one statement (or one pipelined batch) over unnest'ed arrays, whatever
//     the number of tills; tills and stores are created and locked in key order, so
//     concurrent consumers never wait on each other in a cycle.
//   - The fleet view (FleetView) with Persist keeps a device inventory and the event
//     history in the store (FleetStore: bbolt buckets, or PostgreSQL tables it creates):
//     each till's last full status, first and last seen, lost since, device state times,
//     chain conflicts and certificate serial. The last will marks a till lost and keeps
//     what it last said. Thresholds decide its alerts; WebAuth guards the Dashboard with
//     PBKDF2-SHA256 hashed credentials. ServeRenewals answers the tills' certificate
//     renewals with the CA.
//   - The dashboard's business view (business.go) counts a trading day, a calendar day in
//     one stated zone (UTC by default, the projection's days), from verified documents
//     only: in PostgreSQL hq_documents (each till's day a range of its primary key, the
//     tenders from its arrays, never the payload), each till's verified prefix read back
//     from its watermark in bbolt. Takings are sales and refunds; cash is net of change
//     given.
//   - Fleet updates (release.go, rollout.go): a release is a bundle checked with the
//     release keys and stored under its content's SHA-256 (or pointing to another HTTP(S)
//     address); ReleaseServer serves them with ranges. A rollout cuts a fixed set of tills
//     into stages; RolloutController publishes each till's signed desired firmware,
//     retained, stage by stage, follows the tills' reports and journals, pauses itself at
//     the failure threshold, and withdraws the desired firmware on abort. Their records
//     are JSON documents (Docs) in the same store: hq_docs in PostgreSQL, created when
//     missing, or bbolt buckets; every change of a rollout is one transaction.
//   - The consumer never relies on MQTT ordering or on the broker's persistence: it acks
//     (PUBACKs) a message only after its commit, republishes every till's ack on each
//     connect, and answers a till's resends with its ack again.
//   - Backpressure, not drops: the consumer never drops a message it received. What it
//     holds uncommitted is bounded by the broker's in-flight limit toward each of its
//     connections (Options.Connections) and by its own queue (4 x BatchMax; when that is
//     full, paho stops reading the sockets), so its memory stays bounded whatever the
//     backlog at the broker. While a backlog waits, a till's acks go out at most once a
//     second or once its watermark moved ackStride (100); the last one when the queue
//     empties.
//   - The consumer's session survives a broker that serves it slowly: it is lost only when
//     nothing at all arrives for its keep-alive plus two minutes. Given its own ClientID
//     and no Share, the session is persistent: a lost connection, or a restart under the
//     same id, comes back to what the broker queued and had in flight for it.
//   - JetStreamConsumer takes the same path from a NATS cluster's replicated JetStream
//     stream instead of an MQTT subscription: one durable pull consumer shared by every
//     tillhq, a message acknowledged to the stream only after its commit (redelivered to
//     any tillhq after AckWait otherwise), what a session received and did not commit
//     handed back at its end; acks are published over MQTT to the cluster's gateway.
//     The tx stream is where NATS's MQTT side stores each tx before its PUBACK (each tx
//     is written once), and each session looks for retained tx over MQTT and quarantines
//     them as the MQTT consumer does.
package hq
