package till

import (
	"fmt"
	"strconv"
	"strings"
)

// Money formats minor units with two decimals and a comma or point as configured.
func (e *Engine) Money(v int64) string {
	sign := ""
	if v < 0 {
		sign, v = "-", -v
	}
	return fmt.Sprintf("%s%d%s%02d", sign, v/100, e.cfg.DecimalSep, v%100)
}

// qtyText formats thousandths: whole pieces without decimals, weights with three, with the
// decimal separator money has.
func (e *Engine) qtyText(q int64) string {
	if q%1000 == 0 {
		return strconv.FormatInt(q/1000, 10)
	}
	return fmt.Sprintf("%d%s%03d", q/1000, e.cfg.DecimalSep, abs(q%1000))
}

// cashDue is due rounded to the configured cash step (half away from zero).
func (e *Engine) cashDue(due int64) int64 {
	st := e.cfg.CashRounding
	if st <= 1 {
		return due
	}
	if due < 0 {
		return -e.cashDue(-due)
	}
	return (due + st/2) / st * st
}

// percentOf is bp basis points of v, rounded half up.
func percentOf(v, bp int64) int64 { return (v*bp + 5000) / 10000 }

// parseAmount reads typed digits as money. Without a decimal point the digits are minor
// units (the till convention: 1250 is 12.50); with one they are major.minor.
func parseAmount(s string) (int64, bool) {
	return parseFixed(s, 2, true)
}

// parseQty reads typed digits as a quantity in thousandths: "3" is 3 pieces, "1.5" 1.5 kg.
func parseQty(s string) (int64, bool) {
	return parseFixed(s, 3, false)
}

func parseFixed(s string, decimals int, impliedMinor bool) (int64, bool) {
	if s == "" || len(s) > 12 {
		return 0, false
	}
	whole, frac, hasPoint := strings.Cut(s, ".")
	if !hasPoint && impliedMinor {
		v, err := strconv.ParseInt(s, 10, 64)
		return v, err == nil
	}
	if strings.Contains(frac, ".") || len(frac) > decimals {
		return 0, false
	}
	if whole == "" {
		whole = "0"
	}
	w, err := strconv.ParseInt(whole, 10, 64)
	if err != nil {
		return 0, false
	}
	f := int64(0)
	if frac != "" {
		f, err = strconv.ParseInt(frac+strings.Repeat("0", decimals-len(frac)), 10, 64)
		if err != nil {
			return 0, false
		}
	}
	scale := int64(1)
	for i := 0; i < decimals; i++ {
		scale *= 10
	}
	return w*scale + f, true
}

// mulQty is price × quantity (thousandths), rounded half away from zero to minor units.
func mulQty(price, qty int64) int64 {
	p := price * qty
	if p >= 0 {
		return (p + 500) / 1000
	}
	return (p - 500) / 1000
}

// taxOf is the tax contained in a tax-inclusive gross amount at rate basis points,
// rounded half away from zero.
func taxOf(gross, rate int64) int64 {
	num, den := gross*rate, 10000+rate
	if num >= 0 {
		return (2*num + den) / (2 * den)
	}
	return -((-2*num + den) / (2 * den))
}

func abs(v int64) int64 {
	if v < 0 {
		return -v
	}
	return v
}
