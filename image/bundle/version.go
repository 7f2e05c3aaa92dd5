package bundle

import (
	"fmt"
	"strconv"
	"strings"
)

// Version is a parsed version: its dotted numbers.
type Version []uint64

// ParseVersion reads "1.4.12", "v1.4.12" or "1.4.12+g3e652c6".
func ParseVersion(s string) (Version, error) {
	core, _, _ := strings.Cut(strings.TrimPrefix(s, "v"), "+")
	if core == "" {
		return nil, fmt.Errorf("%w %q: want dotted numbers such as 1.4.12", ErrVersion, s)
	}
	var v Version
	for _, p := range strings.Split(core, ".") {
		n, err := strconv.ParseUint(p, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%w %q: want dotted numbers such as 1.4.12", ErrVersion, s)
		}
		v = append(v, n)
	}
	return v, nil
}

// CompareVersions returns -1, 0 or +1 as a is older than, the same as or newer than b.
// Missing trailing numbers count as 0 ("1.4" is "1.4.0").
func CompareVersions(a, b string) (int, error) {
	va, err := ParseVersion(a)
	if err != nil {
		return 0, err
	}
	vb, err := ParseVersion(b)
	if err != nil {
		return 0, err
	}
	for i := 0; i < max(len(va), len(vb)); i++ {
		var x, y uint64
		if i < len(va) {
			x = va[i]
		}
		if i < len(vb) {
			y = vb[i]
		}
		switch {
		case x < y:
			return -1, nil
		case x > y:
			return 1, nil
		}
	}
	return 0, nil
}
