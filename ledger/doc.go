// Package ledger is the till's journal: one bbolt file that a till can trust with its money.
package ledger
