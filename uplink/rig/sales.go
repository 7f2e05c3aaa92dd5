package rig

import (
	"fmt"

	"tillbox/ledger/journal"
)

// Sale is the n-th test sale: a few lines, totals and tenders, about 500 bytes stored.
func Sale(n int) journal.Entry {
	qty := int64(1000 + n%3*1000)
	price := int64(199 + n%50*10)
	amount := qty * price / 1000
	return journal.Entry{
		Kind: journal.KindSale, Cashier: "c1", Currency: "PLN",
		Lines: []journal.Line{
			{Item: fmt.Sprintf("%d", 1000+n%97), Name: "Bread", Barcode: "5901234123457", Qty: qty, Price: price, Amount: amount, Tax: "B"},
			{Item: "200", Name: "Milk 1l", Qty: 1000, Price: 349, Amount: 349, Tax: "B"},
		},
		Totals:  &journal.Totals{Gross: amount + 349, Taxes: []journal.TaxTotal{{Code: "B", Rate: 800, Net: (amount + 349) * 100 / 108, Tax: (amount + 349) - (amount+349)*100/108, Gross: amount + 349}}},
		Tenders: []journal.Tender{{Kind: "cash", Amount: amount + 349}},
	}
}
