package hq

// MigrateTo brings the schema at url to version v only, so that a test can build a
// database as an older tillhq left it and then migrate it.
var MigrateTo = migrateTo

// Unprojected makes st, a PostgreSQL store, leave the relational projection unwritten:
// the ingest benchmark's baseline.
func Unprojected(st Store) Store { st.(*pgStore).unprojected = true; return st }

// AcksDue is the consumer's choice of acks to publish after a commit (see acksDue).
func (c *Consumer) AcksDue(through map[TillKey]uint64, busy bool) map[TillKey]uint64 {
	return c.acksDue(through, nil, busy)
}

// AckStride is how far a till's watermark moves before its ack is due while busy.
const AckStride = ackStride

// MaxPending is how far above its till's watermark an entry is held (see maxPending).
const MaxPending = maxPending
