package hq

import (
	"bufio"
	"bytes"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
)

// ErrAuthFile: the dashboard's credentials file does not parse.
var ErrAuthFile = errors.New("bad credentials file")

// HashIterations is PBKDF2-SHA256's iteration count for new secrets.
const HashIterations = 600_000

// HashSecret returns secret as the credentials file stores it:
// "pbkdf2-sha256$ITERATIONS$SALT$KEY", salt and key in unpadded base64.
func HashSecret(secret string) (string, error) {
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("hq: hash secret: %w", err)
	}
	key, err := pbkdf2.Key(sha256.New, secret, salt, HashIterations, 32)
	if err != nil {
		return "", fmt.Errorf("hq: hash secret: %w", err)
	}
	b := base64.RawStdEncoding
	return "pbkdf2-sha256$" + strconv.Itoa(HashIterations) + "$" + b.EncodeToString(salt) + "$" + b.EncodeToString(key), nil
}

type secretHash struct {
	iter      int
	salt, key []byte
}

func parseHash(s string) (secretHash, error) {
	f := strings.Split(s, "$")
	if len(f) != 4 || f[0] != "pbkdf2-sha256" {
		return secretHash{}, errors.New(`want pbkdf2-sha256$ITERATIONS$SALT$KEY`)
	}
	iter, err := strconv.Atoi(f[1])
	if err != nil || iter < 10_000 || iter > 100_000_000 {
		return secretHash{}, fmt.Errorf("iterations %q: want 10000 or more", f[1])
	}
	salt, err1 := base64.RawStdEncoding.DecodeString(f[2])
	key, err2 := base64.RawStdEncoding.DecodeString(f[3])
	if err1 != nil || err2 != nil || len(salt) < 8 || len(key) < 16 {
		return secretHash{}, errors.New("salt or key is not base64, or too short")
	}
	return secretHash{iter, salt, key}, nil
}

func (h secretHash) match(secret string) bool {
	k, err := pbkdf2.Key(sha256.New, secret, h.salt, h.iter, len(h.key))
	return err == nil && subtle.ConstantTimeCompare(k, h.key) == 1
}

// WebAuth guards the dashboard, /api/fleet and /metrics. Its credentials file holds one
// line per credential (blank lines and lines starting with # are skipped):
//
//	NAME:HASH       HTTP basic authentication as user NAME
//	bearer:HASH     a bearer token (Authorization: Bearer TOKEN), for Prometheus
//
// HASH is HashSecret's form (tillhq passwd makes such lines). Only hashes are stored; a
// credential that matched once is remembered by its SHA-256 for the life of the process,
// so that a scrape every few seconds does not cost a key derivation each time.
type WebAuth struct {
	users  map[string]secretHash
	tokens []secretHash

	mu     sync.Mutex // also serializes derivations: a flood of bad guesses costs one core
	passed map[[32]byte]bool
}

// ReadWebAuth reads a credentials file.
func ReadWebAuth(path string) (*WebAuth, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("hq: credentials: %w", err)
	}
	return ParseWebAuth(b)
}

// ParseWebAuth parses a credentials file's content; it refuses one without a credential.
func ParseWebAuth(b []byte) (*WebAuth, error) {
	a := &WebAuth{users: map[string]secretHash{}, passed: map[[32]byte]bool{}}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, hash, ok := strings.Cut(line, ":")
		if !ok || name == "" {
			return nil, fmt.Errorf("hq: credentials: line %d: want NAME:HASH: %w", n, ErrAuthFile)
		}
		h, err := parseHash(hash)
		if err != nil {
			return nil, fmt.Errorf("hq: credentials: line %d: %v: %w", n, err, ErrAuthFile)
		}
		if name == "bearer" {
			a.tokens = append(a.tokens, h)
		} else {
			a.users[name] = h
		}
	}
	if len(a.users)+len(a.tokens) == 0 {
		return nil, fmt.Errorf("hq: credentials: no credential: %w", ErrAuthFile)
	}
	return a, nil
}

// Allowed reports whether r carries a valid credential.
func (a *WebAuth) Allowed(r *http.Request) bool {
	h := r.Header.Get("Authorization")
	var key [32]byte
	var check func() bool
	if tok, ok := strings.CutPrefix(h, "Bearer "); ok && tok != "" {
		key = sha256.Sum256([]byte("bearer\x00" + tok))
		check = func() bool {
			for _, t := range a.tokens {
				if t.match(tok) {
					return true
				}
			}
			return false
		}
	} else if user, pass, ok := r.BasicAuth(); ok {
		key = sha256.Sum256([]byte("basic\x00" + user + "\x00" + pass))
		check = func() bool {
			u, ok := a.users[user]
			return ok && u.match(pass)
		}
	} else {
		return false
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.passed[key] {
		return true
	}
	if !check() {
		return false
	}
	if len(a.passed) < 1024 {
		a.passed[key] = true
	}
	return true
}

// Wrap serves next only to requests Allowed accepts; the others get 401 with a basic
// authentication challenge.
func (a *WebAuth) Wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !a.Allowed(r) {
			w.Header().Set("WWW-Authenticate", `Basic realm="tillhq", charset="UTF-8"`)
			http.Error(w, "authentication required", http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, r)
	})
}
