// Package wire holds the MQTT topics and message types: the one contract shared by the till
// and HQ.
//
// What it guarantees:
//
//   - Every topic is built and parsed here, under a configurable prefix (DefaultPrefix
//     "tillbox/v1"); store and till ids are 1-32 of [a-z0-9-] (journal.ValidID), so a topic
//     can never carry a wildcard, a separator or an empty level.
//   - Every payload carries "v":1. Decoding is strict: a payload larger than its limit, not
//     JSON, of another version, with unknown or missing fields, or naming another store or
//     till than its topic is refused with an error that wraps one of the sentinels in
//     errors.go and says why. Nothing is accepted half-way.
//   - Every number is range-checked as it is decoded (limits.go): seqs, throughs, counters
//     and versions fit a PostgreSQL bigint (at most MaxSeq), money and quantities are
//     bounded so that a line's qty × price and the sums over one entry fit an int64, and a
//     document's receipt has the form journal.ReceiptNumber writes with a number 1 to its
//     seq. Out of range is ErrInvalid.
//   - A tx payload is exactly the bytes the ledger stored for the entry (ledger.Result.Raw):
//     DecodeTx accepts only that canonical encoding (re-spaced, re-ordered or extended
//     payloads are refused even when they mean the same), and checks its schema, its
//     identity against the topic and its own hash. The chain (prev against the entry
//     before it) is HQ's to check, because only HQ holds the entry before it.
//   - Signatures (sign.go): a tx may carry the till's device signature of its hash after
//     the hash field (the ledger stores it so); catalogs, commands and acks may carry HQ's. This
//     package encodes, checks and verifies them; whether one is required is the receiver's
//     policy (HQ with registered device keys, a till that knows HQ's key).
//   - The desired firmware (desired.go) is HQ's, signed for one till like a command; a till
//     reports its update's steps as UpdateReports in update-progress events.
//   - A catalog is validated as a whole (prices in minor units, known tax codes, unique
//     codes and barcodes, PIN hashes only), so a till applies it all or not at all.
//
// The package is pure: no clocks, goroutines or I/O. Times are passed in by the caller.
package wire
