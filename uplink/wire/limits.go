package wire

import "math"

// Numeric bounds of the contract. Every decoder refuses a number outside them with
// ErrInvalid, so what HQ stores and sums, and what a till applies, stays inside them.
//
//   - A seq, an ack's through, a status's counters and a catalog's version are unsigned
//     on the wire but at most MaxSeq, the largest PostgreSQL bigint: HQ stores them as
//     int64, where a larger one would turn negative and sort, key and compare as another.
//   - A quantity is at most MaxQty thousandths either way (a million pieces or kilograms;
//     negative on a refund) and a line's unit price at most MaxPrice minor units either way
//     (the catalog's own bound), so qty × price of any line fits an int64 (at most 10^18)
//     and a line total rounded from it is at most MaxAmount.
//   - Every other money figure (a line's amount, totals, tax totals, tenders, change) is
//     at most MaxAmount = MaxQty × MaxPrice / 1000 = 10^15 minor units either way. Any
//     9,000 such figures sum inside an int64 (9.0 × 10^18 < 2^63 ≈ 9.22 × 10^18). One tx
//     payload is at most MaxTxBytes, and a figure of MaxAmount's 16 digits takes more than
//     30 bytes of it with its key and its neighbours (smaller figures take fewer bytes but
//     add less), so even the sum of the magnitudes of every figure of one entry stays
//     below 2^63 (TestEntrySumsFitInt64). Sums over many entries belong in a wider type
//     (in SQL the sum of a bigint is a numeric).
//   - A tax rate is 0 to MaxTaxRate basis points (0-100%).
//   - A document's receipt is "<prefix>-<number>" as journal.ReceiptNumber writes it,
//     with the number 1 to the entry's seq; a technical entry carries none.
//   - A status's byte counts are not negative.
const (
	MaxSeq     = math.MaxInt64
	MaxQty     = 1_000_000_000
	MaxAmount  = MaxQty * MaxPrice / 1000
	MaxTaxRate = 10_000
)
