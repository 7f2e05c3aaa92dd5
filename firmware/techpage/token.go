package techpage

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base32"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// TokenFile is the box's technician token in its data directory, mode 0600.
const TokenFile = "techpage.token"

// tokenLen is the length of a token's text without its dashes: 16 base32 letters, 80 bits.
const tokenLen = 16

var tokenEnc = base32.StdEncoding.WithPadding(base32.NoPadding)

// LoadToken returns the box's token from DATA/techpage.token, making a random one on first
// use. The file is created whole (written, synced, then linked into place), so a power cut
// leaves no token or a complete one, and two processes starting at once agree on one token.
// A file readable by others is set back to 0600. A file that holds no token is an error
// that names it; it is never overwritten here.
func LoadToken(dataDir string) (string, error) {
	path := filepath.Join(dataDir, TokenFile)
	tok, err := readToken(path)
	if errors.Is(err, fs.ErrNotExist) {
		if err := writeToken(path, false); err != nil {
			return "", err
		}
		return readToken(path)
	}
	return tok, err
}

// NewToken replaces the box's token with a new random one and returns it: every browser
// signed on with the old token is signed off.
func NewToken(dataDir string) (string, error) {
	path := filepath.Join(dataDir, TokenFile)
	if err := writeToken(path, true); err != nil {
		return "", err
	}
	return readToken(path)
}

func readToken(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("techpage: token: %w", err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		return "", fmt.Errorf("techpage: token: %w", err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		if err := os.Chmod(path, 0o600); err != nil {
			return "", fmt.Errorf("techpage: token: %w", err)
		}
	}
	tok := strings.TrimSpace(string(b))
	if !validToken(tok) {
		return "", fmt.Errorf("techpage: token: %s holds no token: remove it and a new one is made at the next start (or run tillbox techpage token --new)", path)
	}
	return tok, nil
}

// writeToken writes a new token to path through a synced temporary file; replace false
// leaves an existing file as it is.
func writeToken(path string, replace bool) error {
	var raw [tokenLen * 5 / 8]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return fmt.Errorf("techpage: token: %w", err)
	}
	tok := FormatToken(tokenEnc.EncodeToString(raw[:]))
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("techpage: token: %w", err)
	}
	f, err := os.CreateTemp(filepath.Dir(path), ".techpage-token-*")
	if err != nil {
		return fmt.Errorf("techpage: token: %w", err)
	}
	defer os.Remove(f.Name())
	_, werr := f.WriteString(tok + "\n")
	serr := f.Sync()
	cerr := f.Close()
	for _, err := range []error{werr, serr, cerr} {
		if err != nil {
			return fmt.Errorf("techpage: token: %w", err)
		}
	}
	if replace {
		err = os.Rename(f.Name(), path)
	} else if err = os.Link(f.Name(), path); errors.Is(err, fs.ErrExist) {
		err = nil // made by another process meanwhile: that one stands
	}
	if err != nil {
		return fmt.Errorf("techpage: token: %w", err)
	}
	return nil
}

// FormatToken writes a token as the operator display and the page show it: lower case, in
// groups of four letters, "abcd-efgh-ijkl-mnop" (19 characters, one display line).
func FormatToken(s string) string {
	s = normalToken(s)
	var b strings.Builder
	for i, r := range s {
		if i > 0 && i%4 == 0 {
			b.WriteByte('-')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// normalToken is s as typed, without case, dashes and spaces.
func normalToken(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r == '-' || r == ' ':
			return -1
		case r >= 'A' && r <= 'Z':
			return r + 'a' - 'A'
		}
		return r
	}, s)
}

func validToken(s string) bool {
	n := normalToken(s)
	if len(n) != tokenLen {
		return false
	}
	for _, r := range n {
		if !(r >= 'a' && r <= 'z' || r >= '2' && r <= '7') {
			return false
		}
	}
	return true
}

// sameToken compares a token as typed with the box's in constant time.
func sameToken(typed, box string) bool {
	return subtle.ConstantTimeCompare([]byte(normalToken(typed)), []byte(normalToken(box))) == 1
}
