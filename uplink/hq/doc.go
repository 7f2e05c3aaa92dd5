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
//     entry from 1 to it is stored and the chain links from the genesis prev to it. It is
//     advanced inside the same store transaction that stores the entries, and the retained
//     ack is published only after that transaction committed. With Options.SignKey the
//     ack names its till and carries HQ's signature, which a provisioned till requires.
//   - Anything that cannot be stored (not JSON, oversized, another version, an identity
//     differing from its topic, a hash that does not match, a broken chain, a conflict)
//     goes to the quarantine with its reason and payload. Nothing is silently dropped.
//   - Each document entry gets a central receipt number per store, in the order HQ
//     verified them; a receipt is found by its till number or its central number.
//   - Two stores implement this: bbolt (embedded, one process) and PostgreSQL (several
//     consumers on a shared subscription). Both run the same ingest logic (ingest.go).
//     PostgreSQL's schema is versioned: OpenPostgres refuses an older one and Migrate
//     brings it up step by step, keeping what is stored. A batch of new entries goes in
//     with COPY (falling back to an INSERT that sorts new keys from held ones when any
//     key is held), and central numbers are kept as one run per till per commit.
//   - What HQ sends is signed with Options.SignKey when that is set: a command names its
//     till and expires (SendCommand subscribes to the result before it publishes, so an
//     answer is never missed), a catalog is validated as a whole before it is published,
//     retained, and acks are the consumer's (wire.AckPayload).
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
package hq
