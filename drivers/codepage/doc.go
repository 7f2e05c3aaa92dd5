// Package codepage turns Unicode text into the single-byte code pages that ESC/POS receipt
// printers and pole displays print (CP437, CP852, CP857, CP858), and back.
//
// What it guarantees:
//
//   - Encode never emits a control byte: every rune becomes a byte in 0x20-0x7E or
//     0x80-0xFF of the page, so text can never inject a printer or display command.
//     Control characters (U+0000-U+001F, U+007F-U+009F) are treated as runes the page lacks.
//   - A rune the page has is encoded exactly (the tables are generated from glibc iconv
//     by gen.go and checked by tests against byte values taken from the IBM code charts).
//   - A rune the page lacks falls back, in this order, to the transliteration documented
//     in translit.go (ą→a, ł→l, ß→ss, €→EUR, ğ→g, ı→i, “→", …→...) and then to '?'.
//     Encode reports every rune that fell back, once each, in order of first appearance,
//     so a caller can log or refuse a receipt that would print wrongly.
//   - Decode is the exact inverse for bytes the page defines; undefined bytes and control
//     bytes decode to U+FFFD.
//
// Which page prints which language (only the letters listed are checked by tests):
//
//	cp437  English, German (ä ö ü ß Ä Ö Ü), no euro sign       ESC t 0
//	cp852  Polish (ą ć ę ł ń ó ś ź ż and capitals), German, no euro sign   ESC t 18
//	cp857  Turkish (ç ğ ı İ ö ş ü and capitals), German, no euro sign      ESC t 13
//	cp858  German, Western European, euro sign (€ at 0xD5)                  ESC t 19
//
// No single page prints Polish, Turkish and the euro sign together; the printer driver
// switches pages within a line (Has tells it which page has a rune).
package codepage

//go:generate go run gen.go
