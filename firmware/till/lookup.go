package till

import (
	"fmt"
	"sort"
	"strings"
	"time"
	"unicode"

	"tillbox/ledger/journal"
)

// The letters on the digit keys, as on a phone: an item is found by name by typing one
// digit per letter (2 for A, B or C; "Brot" is 2768).
var t9Keys = map[rune]byte{}

func init() {
	for d, letters := range []string{2: "abc", 3: "def", 4: "ghi", 5: "jkl", 6: "mno", 7: "pqrs", 8: "tuv", 9: "wxyz"} {
		for _, r := range letters {
			t9Keys[r] = byte('0' + d)
		}
	}
	for r, base := range map[rune]rune{'ä': 'a', 'á': 'a', 'à': 'a', 'â': 'a', 'ą': 'a', 'ć': 'c', 'č': 'c', 'ç': 'c',
		'é': 'e', 'è': 'e', 'ê': 'e', 'ę': 'e', 'ě': 'e', 'í': 'i', 'î': 'i', 'ł': 'l', 'ń': 'n', 'ñ': 'n',
		'ó': 'o', 'ö': 'o', 'ô': 'o', 'ř': 'r', 'ś': 's', 'š': 's', 'ß': 's', 'ú': 'u', 'ü': 'u', 'ů': 'u',
		'ý': 'y', 'ź': 'z', 'ż': 'z', 'ž': 'z'} {
		t9Keys[r] = t9Keys[base]
	}
}

// t9Words gives the digit spelling of each word of name; digits in the name stand for
// themselves.
func t9Words(name string) []string {
	var out []string
	for _, w := range strings.FieldsFunc(strings.ToLower(name), func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) }) {
		var b strings.Builder
		for _, r := range w {
			if d, ok := t9Keys[r]; ok {
				b.WriteByte(d)
			} else if r >= '0' && r <= '9' {
				b.WriteRune(r)
			}
		}
		out = append(out, b.String())
	}
	return out
}

// t9Text shows typed name digits as the letters they stand for.
func t9Text(digits string) string {
	var b strings.Builder
	for _, c := range digits {
		switch c {
		case '2', '3', '4', '5', '6', '7', '8', '9':
			b.WriteString("[" + []string{"abc", "def", "ghi", "jkl", "mno", "pqrs", "tuv", "wxyz"}[c-'2'] + "]")
		default:
			b.WriteRune(c)
		}
	}
	return b.String()
}

// FindByName lists the items a name typed on the digit keys names: those with a word
// starting with that spelling, by name.
func (c *Catalog) FindByName(digits string) []Item {
	var out []Item
	for _, it := range c.Items {
		for _, w := range t9Words(it.Name) {
			if strings.HasPrefix(w, digits) {
				out = append(out, it)
				break
			}
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Name != out[j].Name {
			return out[i].Name < out[j].Name
		}
		return out[i].Code < out[j].Code
	})
	return out
}

// findItem asks for a name on the digit keys, lists what matches, and rings up the one
// chosen (opening a sale when none is open).
func (e *Engine) findItem(back mode) Output {
	return e.ask(askStep{prompt: "FIND ITEM: name on keys 2-9 + ENTER", hint: "2abc 3def 4ghi 5jkl 6mno 7pqrs 8tuv 9wxyz",
		back: back, t9: true,
		enter: func(in string, now time.Time) Output {
			if in == "" || strings.ContainsAny(in, ".01") {
				return e.refuse("type the name with the keys 2-9")
			}
			found := e.cat.FindByName(in)
			if len(found) == 0 {
				return e.refuse("no item named " + t9Text(in))
			}
			if len(found) > 9 {
				found = found[:9]
			}
			var names []string
			for _, it := range found {
				names = append(names, it.Name+" "+e.Money(it.Price))
			}
			e.leaveAsk()
			return e.choose("FOUND", names, back, func(choice string, now time.Time) Output {
				var it Item
				for i, n := range names {
					if n == choice {
						it = found[i]
					}
				}
				if e.sale == nil {
					e.startSale(journal.KindSale, now)
				}
				e.qty = 0
				return e.addItem(it, "", -1, -1)
			})
		}})
}

// priceCheck shows an item's price and local stock without selling it, for each scan or
// PLU number until CLEAR.
func (e *Engine) priceCheck(back mode) Output {
	show := func(it Item, ok bool, code string) Output {
		if !ok {
			return e.refuse("unknown item " + code)
		}
		stock, err := e.journal.Stock(it.Code)
		st := "stock " + e.qtyText(stock)
		if err != nil {
			st = "stock unknown"
		}
		unit := ""
		if it.Weighed {
			unit = "/kg"
		}
		price := e.Money(it.Price) + unit
		if it.Price <= 0 {
			price = "no price"
		}
		return e.show("PRICE CHECK: scan or PLU no. + ENTER", fmt.Sprintf("%s %s, %s", it.Name, price, st))
	}
	return e.ask(askStep{prompt: "PRICE CHECK: scan or PLU no. + ENTER", back: back,
		enter: func(in string, now time.Time) Output {
			if in == "" {
				return e.refuse("type the item number or scan it")
			}
			it, ok := e.cat.Items[in]
			return show(it, ok, in)
		},
		scan: func(s Scan, now time.Time) Output {
			it, _, ok := e.lookupScan(s)
			return show(it, ok, s.Code)
		}})
}
