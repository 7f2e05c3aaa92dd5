package fetch

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

func content(n int) ([]byte, string) {
	b := bytes.Repeat([]byte("0123456789abcdef"), n/16)
	s := sha256.Sum256(b)
	return b, hex.EncodeToString(s[:])
}

// cutServer serves body with ranges; the first cuts requests end the body after half of
// what was asked for, by closing the connection.
type cutServer struct {
	body   []byte
	cuts   int
	mu     sync.Mutex
	ranges []string
	sent   int
}

func (s *cutServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.ranges = append(s.ranges, r.Header.Get("Range"))
	cut := s.cuts > 0
	s.cuts--
	s.mu.Unlock()
	if !cut {
		rec := &countingWriter{ResponseWriter: w}
		http.ServeContent(rec, r, "b.tbx", time.Time{}, bytes.NewReader(s.body))
		s.mu.Lock()
		s.sent += rec.n
		s.mu.Unlock()
		return
	}
	w.Header().Set("Content-Length", "1000000000")
	w.WriteHeader(http.StatusOK)
	half := s.body[:len(s.body)/2]
	w.Write(half)
	s.mu.Lock()
	s.sent += len(half)
	s.mu.Unlock()
	w.(http.Flusher).Flush()
	panic(http.ErrAbortHandler)
}

type countingWriter struct {
	http.ResponseWriter
	n int
}

func (c *countingWriter) Write(b []byte) (int, error) {
	n, err := c.ResponseWriter.Write(b)
	c.n += n
	return n, err
}

func TestCutAndResumed(t *testing.T) {
	body, sum := content(1 << 20)
	s := &cutServer{body: body, cuts: 1}
	srv := httptest.NewServer(s)
	defer srv.Close()
	dir := t.TempDir()
	r := Request{URL: srv.URL, SHA256: sum, Size: int64(len(body))}
	if _, err := Fetch(context.Background(), nil, dir, r); err == nil || !strings.Contains(err.Error(), "resumed at the next try") {
		t.Fatalf("a cut download: %v", err)
	}
	if _, err := os.Stat(Path(dir, sum)); !os.IsNotExist(err) {
		t.Fatalf("a cut download left a complete file: %v", err)
	}
	var last int64
	r.Progress = func(done, total int64) { last = done }
	p, err := Fetch(context.Background(), nil, dir, r)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(p)
	if !bytes.Equal(got, body) || last != int64(len(body)) {
		t.Fatalf("resumed file differs (%d bytes, progress %d)", len(got), last)
	}
	if len(s.ranges) != 2 || s.ranges[0] != "" || s.ranges[1] != "bytes=524288-" {
		t.Fatalf("requests' ranges: %q", s.ranges)
	}
	if s.sent != len(body) {
		t.Fatalf("the server sent %d bytes for a %d byte file", s.sent, len(body))
	}
	// Complete: no request at all.
	if _, err := Fetch(context.Background(), nil, dir, r); err != nil || len(s.ranges) != 2 {
		t.Fatalf("a complete file was fetched again: %v, %d requests", err, len(s.ranges))
	}
}

func TestRefused(t *testing.T) {
	body, sum := content(64 << 10)
	tampered := append([]byte(nil), body...)
	tampered[100] ^= 1
	long := append(append([]byte(nil), body...), "more"...)
	short := body[:1000]
	for name, served := range map[string][]byte{"tampered": tampered, "too long": long, "truncated": short} {
		t.Run(name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				http.ServeContent(w, r, "b.tbx", time.Time{}, bytes.NewReader(served))
			}))
			defer srv.Close()
			dir := t.TempDir()
			_, err := Fetch(context.Background(), nil, dir, Request{URL: srv.URL, SHA256: sum, Size: int64(len(body))})
			if !errors.Is(err, ErrDigest) && !errors.Is(err, ErrSize) {
				t.Fatalf("got %v", err)
			}
			if _, err := os.Stat(Path(dir, sum)); !os.IsNotExist(err) {
				t.Fatalf("a refused download left a file under its final name")
			}
		})
	}
}

// TestDamagedPartStartsOver: a partial file whose bytes are wrong (a power loss kept
// garbage) is resumed, fails its digest, and is fetched once more from the start.
func TestDamagedPartStartsOver(t *testing.T) {
	body, sum := content(64 << 10)
	s := &cutServer{body: body}
	srv := httptest.NewServer(s)
	defer srv.Close()
	dir := t.TempDir()
	os.WriteFile(Path(dir, sum)+".part", make([]byte, 4096), 0o600)
	p, err := Fetch(context.Background(), nil, dir, Request{URL: srv.URL, SHA256: sum, Size: int64(len(body))})
	if err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(p)
	if !bytes.Equal(got, body) || len(s.ranges) != 2 || s.ranges[0] != "bytes=4096-" || s.ranges[1] != "" {
		t.Fatalf("equal %v, ranges %q", bytes.Equal(got, body), s.ranges)
	}
}

// TestQuietLinkEnds: a server that stops sending ends the download after Idle, with what
// arrived kept and resumed by the next call.
func TestQuietLinkEnds(t *testing.T) {
	body, sum := content(256 << 10)
	release := make(chan struct{})
	var mu sync.Mutex
	var ranges []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		ranges = append(ranges, r.Header.Get("Range"))
		first := len(ranges) == 1
		mu.Unlock()
		if !first {
			http.ServeContent(w, r, "b.tbx", time.Time{}, bytes.NewReader(body))
			return
		}
		w.Header().Set("Content-Length", fmt.Sprint(len(body)))
		w.Write(body[:1000])
		w.(http.Flusher).Flush()
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	dir := t.TempDir()
	r := Request{URL: srv.URL, SHA256: sum, Size: int64(len(body)), Idle: 300 * time.Millisecond}
	_, err := Fetch(context.Background(), nil, dir, r)
	if err == nil || !strings.Contains(err.Error(), "no data for 300ms") {
		t.Fatalf("a quiet link: %v", err)
	}
	if _, err := Fetch(context.Background(), nil, dir, r); err != nil {
		t.Fatal(err)
	}
	if len(ranges) != 2 || ranges[1] != "bytes=1000-" {
		t.Fatalf("ranges %q", ranges)
	}
}
