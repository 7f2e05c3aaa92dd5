package codepage

import (
	"fmt"
	"sort"
	"strings"
	"unicode/utf8"
)

// Page is one single-byte code page as an ESC/POS printer knows it.
type Page struct {
	// Name is the page's canonical name, "cp852".
	Name string
	// ESCPOS is n in ESC t n that selects this page on Epson-compatible printers and
	// pole displays (the Epson numbering: 0 PC437, 13 PC857, 18 PC852, 19 PC858).
	ESCPOS byte

	high [128]rune     // bytes 0x80-0xFF; 0 = undefined
	enc  map[rune]byte // inverse of high, ASCII excluded
}

var pages = []*Page{
	newPage("cp437", 0, &cp437High),
	newPage("cp852", 18, &cp852High),
	newPage("cp857", 13, &cp857High),
	newPage("cp858", 19, &cp858High),
}

func newPage(name string, escpos byte, high *[128]rune) *Page {
	p := &Page{Name: name, ESCPOS: escpos, high: *high, enc: make(map[rune]byte, 128)}
	for i, r := range high {
		// Printers treat 0x80-0x9F as glyphs, but Unicode's C1 controls there are not text.
		if r != 0 && !isControl(r) {
			p.enc[r] = byte(0x80 + i)
		}
	}
	return p
}

// Names lists the known pages, sorted.
func Names() []string {
	n := make([]string, len(pages))
	for i, p := range pages {
		n[i] = p.Name
	}
	sort.Strings(n)
	return n
}

// Lookup returns the page called name. It accepts "cp852", "CP852", "pc852", "ibm852"
// and "852" alike, because printer manuals and config files spell them all ways.
func Lookup(name string) (*Page, error) {
	n := strings.ToLower(strings.TrimSpace(name))
	for _, prefix := range []string{"cp", "pc", "ibm", "ibm-", "cp-"} {
		if rest, ok := strings.CutPrefix(n, prefix); ok {
			n = rest
			break
		}
	}
	for _, p := range pages {
		if p.Name[2:] == n {
			return p, nil
		}
	}
	return nil, fmt.Errorf("codepage: lookup %q: %w (known: %s)", name, ErrUnknownPage, strings.Join(Names(), ", "))
}

// ByESCPOS returns the page that ESC t n selects.
func ByESCPOS(n byte) (*Page, error) {
	for _, p := range pages {
		if p.ESCPOS == n {
			return p, nil
		}
	}
	return nil, fmt.Errorf("codepage: ESC t %d: %w (known: %s)", n, ErrUnknownPage, strings.Join(Names(), ", "))
}

// String returns the page's name.
func (p *Page) String() string { return p.Name }

// Byte returns the byte that prints r on this page, and false when the page lacks r.
func (p *Page) Byte(r rune) (byte, bool) {
	if r >= 0x20 && r < 0x7f {
		return byte(r), true
	}
	b, ok := p.enc[r]
	return b, ok
}

// Has reports whether the page prints r exactly.
func (p *Page) Has(r rune) bool {
	_, ok := p.Byte(r)
	return ok
}

// Encode returns s in this page. missing lists the runes the page lacks (each once, in
// order of first appearance); they were printed as their transliteration, or as '?'
// where a transliteration is not printable either. An invalid UTF-8 byte counts as
// U+FFFD.
func (p *Page) Encode(s string) (b []byte, missing []rune) {
	b = make([]byte, 0, len(s))
	for _, r := range s {
		if c, ok := p.Byte(r); ok {
			b = append(b, c)
			continue
		}
		if !containsRune(missing, r) {
			missing = append(missing, r)
		}
		b = p.appendFallback(b, r)
	}
	return b, missing
}

// AppendFallback appends what Encode prints for a rune the page lacks.
func (p *Page) appendFallback(b []byte, r rune) []byte {
	t, ok := translit[r]
	if !ok {
		return append(b, '?')
	}
	for _, tr := range t {
		if c, ok := p.Byte(tr); ok {
			b = append(b, c)
		} else {
			b = append(b, '?')
		}
	}
	return b
}

// Fallback returns the bytes Encode prints for r when the page lacks it, so a caller
// that chooses among pages rune by rune prints exactly what Encode would.
func (p *Page) Fallback(r rune) []byte { return p.appendFallback(nil, r) }

// Decode returns the text of b on this page. Bytes the page leaves undefined and control
// bytes decode to U+FFFD.
func (p *Page) Decode(b []byte) string {
	var sb strings.Builder
	sb.Grow(len(b))
	for _, c := range b {
		sb.WriteRune(p.Rune(c))
	}
	return sb.String()
}

// Rune returns the rune byte c prints on this page, or U+FFFD.
func (p *Page) Rune(c byte) rune {
	switch {
	case c >= 0x20 && c < 0x7f:
		return rune(c)
	case c >= 0x80:
		if r := p.high[c-0x80]; r != 0 && !isControl(r) {
			return r
		}
	}
	return utf8.RuneError
}

func isControl(r rune) bool { return r < 0x20 || (r >= 0x7f && r < 0xa0) }

func containsRune(rs []rune, r rune) bool {
	for _, x := range rs {
		if x == r {
			return true
		}
	}
	return false
}
