// Package receipt lays journal entries out as printer documents: receipts, refund and
// no-sale slips, cash movements, stock documents and X/Z reports.
//
// Everything printed is rendered from the journal entry itself, which is immutable once
// committed; a print job in the ledger therefore only names its entry, and a reprint after a
// crash prints exactly what the first copy did, with a reprint mark on top.
package receipt
