package uplinktest

import (
	"fmt"

	"tillbox/ledger"
)

// Sale is the n-th test sale: a few lines, totals and tenders, about 500 bytes stored.
func Sale(n int) ledger.Entry {
	qty := int64(1000 + n%3*1000)
	price := int64(199 + n%50*10)
	amount := qty * price / 1000
	return ledger.Entry{
		Kind: ledger.KindSale, Cashier: "c1", Currency: "PLN",
		Lines: []ledger.Line{
			{Item: fmt.Sprintf("%d", 1000+n%97), Name: "Bread", Barcode: "5901234123457", Qty: qty, Price: price, Amount: amount, Tax: "B"},
			{Item: "200", Name: "Milk 1l", Qty: 1000, Price: 349, Amount: 349, Tax: "B"},
		},
		Totals:  &ledger.Totals{Gross: amount + 349, Taxes: []ledger.TaxTotal{{Code: "B", Rate: 800, Net: (amount + 349) * 100 / 108, Tax: (amount + 349) - (amount+349)*100/108, Gross: amount + 349}}},
		Tenders: []ledger.Tender{{Kind: "cash", Amount: amount + 349}},
	}
}
