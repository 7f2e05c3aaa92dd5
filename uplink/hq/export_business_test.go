package hq

// PgTakings is the business view's statement, for the benchmark's plan.
const PgTakings = pgTakings
