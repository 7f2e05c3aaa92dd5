package ledger

import (
	"strconv"

	"tillbox/ledger/journal"
)

// The entry types live in package journal, which has no bbolt in it, so that the sale
// engine and HQ can use them without the file layer. They are aliased here for callers
// of the ledger.
type (
	Entry    = journal.Entry
	Kind     = journal.Kind
	Line     = journal.Line
	Totals   = journal.Totals
	TaxTotal = journal.TaxTotal
	Tender   = journal.Tender
)

const (
	KindSale            = journal.KindSale
	KindRefund          = journal.KindRefund
	KindVoid            = journal.KindVoid
	KindNoSale          = journal.KindNoSale
	KindCashIn          = journal.KindCashIn
	KindCashOut         = journal.KindCashOut
	KindShiftOpen       = journal.KindShiftOpen
	KindShiftClose      = journal.KindShiftClose
	KindXReport         = journal.KindXReport
	KindZReport         = journal.KindZReport
	KindStockTransfer   = journal.KindStockTransfer
	KindInternalRelease = journal.KindInternalRelease
	KindPowerUp         = journal.KindPowerUp
	KindOfflineStart    = journal.KindOfflineStart
	KindOfflineEnd      = journal.KindOfflineEnd
	KindIntegrityError  = journal.KindIntegrityError
	KindSignOn          = journal.KindSignOn
	KindSignOff         = journal.KindSignOff
	KindDrawer          = journal.KindDrawer
	KindUpdate          = journal.KindUpdate

	FormatVersion = journal.FormatVersion
	GenesisPrev   = journal.GenesisPrev
)

var (
	ReceiptNumber = journal.ReceiptNumber
	DefaultPrefix = journal.DefaultPrefix
	ValidID       = journal.ValidID
	SigMessage    = journal.SigMessage
)

func short(h string) string { return journal.Short(h) }
func utoa(u uint64) string  { return strconv.FormatUint(u, 10) }
