// Package reports computes the X and Z report figures from journal entries: pure functions
// over the ledger's entries, with no file or clock of their own. A report is therefore always
// consistent with the journal it is printed from, and HQ can recompute it.
//
// An X report shows the figures since the last Z report and changes nothing. A Z report
// shows the same figures, closes the day, and carries the running totals since the till's
// first sale (the grand totals), which the next Z continues from. An X report may be of one
// cashier's documents (ForCashier); a shift's figures (Shift) run from its shift-open entry
// and set the cash counted at its close against the cash expected: the over or short.
package reports
