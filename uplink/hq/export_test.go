package hq

// MigrateTo brings the schema at url to version v only, so that a test can build a
// database as an older tillhq left it and then migrate it.
var MigrateTo = migrateTo

// Unprojected makes st, a PostgreSQL store, leave the relational projection unwritten:
// the ingest benchmark's baseline.
func Unprojected(st Store) Store { st.(*pgStore).unprojected = true; return st }
