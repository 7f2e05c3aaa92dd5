package display

// The HD44780U's character generator ROM A00 (the common Japanese variant, datasheet
// table 4) matches ASCII from 0x20 to 0x7D except 0x5C, which is '¥'; 0x7E and 0x7F are
// arrows. Of the upper half only the few Latin letters and signs below are useful to a
// European till; the rest is katakana.
var romA00 = map[rune]byte{
	'¥': 0x5c, '°': 0xdf, 'ä': 0xe1, 'ß': 0xe2, 'µ': 0xe4, 'ö': 0xef, 'ü': 0xf5,
}

// romByte returns the A00 ROM code that shows r.
func romByte(r rune) (byte, bool) {
	if r >= 0x20 && r <= 0x7d && r != '\\' {
		return byte(r), true
	}
	b, ok := romA00[r]
	return b, ok
}

// glyphArt is the custom-character font loaded into CGRAM (5x8 dots, datasheet table 5):
// the letters Polish, Turkish and German receipts need that A00 lacks, and the euro sign.
// The lower-case letters keep the ROM font's x-height so they sit level with their
// neighbours; accents use the two rows above it, ogoneks and cedillas the cursor row.
var glyphArt = map[rune][8]string{
	'ą': {".....", ".....", ".###.", "....#", ".####", "#...#", ".####", "...##"},
	'ć': {"...#.", "..#..", ".###.", "#....", "#....", "#...#", ".###.", "....."},
	'ę': {".....", ".....", ".###.", "#...#", "#####", "#....", ".###.", "..##."},
	'ł': {".##..", "..#..", "..##.", ".##..", "..#..", "..#..", ".###.", "....."},
	'ń': {"...#.", "..#..", "#.##.", "##..#", "#...#", "#...#", "#...#", "....."},
	'ó': {"...#.", "..#..", ".###.", "#...#", "#...#", "#...#", ".###.", "....."},
	'ś': {"...#.", "..#..", ".###.", "#....", ".###.", "....#", "####.", "....."},
	'ź': {"...#.", "..#..", "#####", "...#.", "..#..", ".#...", "#####", "....."},
	'ż': {"..#..", ".....", "#####", "...#.", "..#..", ".#...", "#####", "....."},
	'Ą': {".###.", "#...#", "#...#", "#...#", "#####", "#...#", "#...#", "...##"},
	'Ć': {"...#.", ".###.", "#...#", "#....", "#....", "#...#", ".###.", "....."},
	'Ę': {"#####", "#....", "#....", "####.", "#....", "#....", "#####", "..##."},
	'Ł': {"#....", "#....", "#.#..", "##...", "#....", "#....", "#####", "....."},
	'Ń': {"...#.", "#...#", "##..#", "#.#.#", "#..##", "#...#", "#...#", "....."},
	'Ó': {"...#.", ".###.", "#...#", "#...#", "#...#", "#...#", ".###.", "....."},
	'Ś': {"...#.", ".####", "#....", ".###.", "....#", "....#", "####.", "....."},
	'Ź': {"...#.", "#####", "...#.", "..#..", ".#...", "#....", "#####", "....."},
	'Ż': {"..#..", "#####", "...#.", "..#..", ".#...", "#....", "#####", "....."},
	'ç': {".....", ".....", ".###.", "#....", "#....", "#...#", ".###.", "..##."},
	'ğ': {"#...#", ".###.", ".####", "#...#", ".####", "....#", ".###.", "....."},
	'ı': {".....", ".....", ".##..", "..#..", "..#..", "..#..", ".###.", "....."},
	'ş': {".....", ".....", ".###.", "#....", ".###.", "....#", "####.", "..##."},
	'Ç': {".###.", "#...#", "#....", "#....", "#...#", ".###.", "..#..", ".##.."},
	'Ğ': {"#...#", ".###.", ".###.", "#....", "#.###", "#...#", ".###.", "....."},
	'İ': {"..#..", ".....", ".###.", "..#..", "..#..", "..#..", ".###.", "....."},
	'Ş': {".####", "#....", ".###.", "....#", "####.", "..#..", ".##..", "....."},
	'Ä': {"#...#", ".....", ".###.", "#...#", "#####", "#...#", "#...#", "....."},
	'Ö': {"#...#", ".....", ".###.", "#...#", "#...#", "#...#", ".###.", "....."},
	'Ü': {"#...#", ".....", "#...#", "#...#", "#...#", "#...#", ".###.", "....."},
	'€': {"..###", ".#...", "####.", ".#...", "####.", ".#...", "..###", "....."},
}

// Glyph is one CGRAM character: eight rows of five dots, bit 4 the leftmost dot.
type Glyph [8]byte

var glyphs = func() map[rune]Glyph {
	m := make(map[rune]Glyph, len(glyphArt))
	for r, art := range glyphArt {
		var g Glyph
		for y, row := range art {
			for x, c := range row {
				if c == '#' {
					g[y] |= 1 << (4 - x)
				}
			}
		}
		m[r] = g
	}
	return m
}()

// Glyphs returns the custom characters an LCD loads into CGRAM, by the rune they show.
// A fake LCD uses it to read back what the driver meant.
func Glyphs() map[rune]Glyph {
	m := make(map[rune]Glyph, len(glyphs))
	for r, g := range glyphs {
		m[r] = g
	}
	return m
}
