package codepage

// Transliterations used when a page lacks a rune. They are deliberately plain: a
// cashier reading a receipt from a page without Polish letters should still read the
// word ("Zolc" for "Żółć"), and money must never print as '?' ("EUR" for "€").
//
// Letters with diacritics fall back to their base letter; ligatures and letters without
// a base letter to the usual multi-letter spelling. The groups below list, after each
// base, the letters that fall back to it.
var letterGroups = []struct {
	base    string
	letters string
}{
	{"A", "ÀÁÂÃÄÅĀĂĄ"}, {"a", "àáâãäåāăą"},
	{"C", "ÇĆĈĊČ"}, {"c", "çćĉċč"},
	{"D", "ĎĐÐ"}, {"d", "ďđð"},
	{"E", "ÈÉÊËĒĔĖĘĚ"}, {"e", "èéêëēĕėęě"},
	{"G", "ĜĞĠĢ"}, {"g", "ĝğġģ"},
	{"H", "ĤĦ"}, {"h", "ĥħ"},
	{"I", "ÌÍÎÏĨĪĬĮİ"}, {"i", "ìíîïĩīĭįı"},
	{"J", "Ĵ"}, {"j", "ĵ"},
	{"K", "Ķ"}, {"k", "ķ"},
	{"L", "ĹĻĽĿŁ"}, {"l", "ĺļľŀł"},
	{"N", "ÑŃŅŇ"}, {"n", "ñńņň"},
	{"O", "ÒÓÔÕÖØŌŎŐ"}, {"o", "òóôõöøōŏő"},
	{"R", "ŔŖŘ"}, {"r", "ŕŗř"},
	{"S", "ŚŜŞŠȘ"}, {"s", "śŝşšș"},
	{"T", "ŢŤŦȚ"}, {"t", "ţťŧț"},
	{"U", "ÙÚÛÜŨŪŬŮŰŲ"}, {"u", "ùúûüũūŭůűų"},
	{"W", "Ŵ"}, {"w", "ŵ"},
	{"Y", "ÝŶŸ"}, {"y", "ýÿŷ"},
	{"Z", "ŹŻŽ"}, {"z", "źżž"},
}

// special holds the fallbacks that are not "drop the diacritic".
var special = map[rune]string{
	'ß': "ss", 'ẞ': "SS", 'Æ': "AE", 'æ': "ae", 'Œ': "OE", 'œ': "oe",
	'Þ': "TH", 'þ': "th", 'ĳ': "ij", 'Ĳ': "IJ",
	'€': "EUR", '£': "GBP", '¥': "JPY", '¢': "c", '₺': "TL", '₤': "L",
	'\u00a0': " ", '\u2007': " ", '\u202f': " ", '\u2009': " ",
	'‘': "'", '’': "'", '‚': ",", '‛': "'", '′': "'",
	'“': "\"", '”': "\"", '„': "\"", '«': "<<", '»': ">>", '″': "\"",
	'‐': "-", '‑': "-", '‒': "-", '–': "-", '—': "-", '−': "-",
	'…': "...", '•': "*", '·': ".", '×': "x", '÷': "/",
	'©': "(c)", '®': "(R)", '™': "TM", '°': "o", '№': "No",
	'½': "1/2", '¼': "1/4", '¾': "3/4",
}

// translit is the merged table: rune -> fallback text.
var translit = buildTranslit()

func buildTranslit() map[rune]string {
	m := make(map[rune]string, len(special)+200)
	for _, g := range letterGroups {
		for _, r := range g.letters {
			m[r] = g.base
		}
	}
	for r, s := range special {
		m[r] = s
	}
	return m
}

// Transliterate returns the documented fallback text for r, and false when r has none
// (it then prints as '?').
func Transliterate(r rune) (string, bool) {
	s, ok := translit[r]
	return s, ok
}
