// Package receipt lays journal entries out as printer documents: receipts, refund and
// no-sale slips, cash movements, shift opens and closes, stock documents and X/Z reports,
// with what a sale's details record: discounts and their reasons, overrides, open prices,
// manual weights, age checks, card payments reversed and cash rounding.
//
// Everything printed is rendered from the journal entry itself, which is immutable once
// committed; a print job in the ledger therefore only names its entry, and a reprint after a
// crash prints exactly what the first copy did, with a reprint mark on top; a copy asked
// for at the till prints it under a COPY n mark (CopyMark).
package receipt
