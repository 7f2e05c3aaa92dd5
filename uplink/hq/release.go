package hq

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	"tillbox/image/bundle"
)

// Release is one firmware bundle the fleet can be updated to.
type Release struct {
	Version string `json:"version"`
	Board   string `json:"board"`
	KeyID   string `json:"key_id"`
	// SHA256 and Size are the whole bundle file's, as the tills check their download.
	SHA256 string    `json:"sha256"`
	Size   int64     `json:"size"`
	Added  time.Time `json:"added"`
	// URL is where tills fetch it; empty: from head office's release server, which holds
	// it in its release directory under ReleaseFile.
	URL string `json:"url,omitempty"`
}

// ErrRelease: a bundle that cannot be a release (bad signature, payload, or a version
// that exists with other content).
var ErrRelease = errors.New("not a usable release")

// ReleaseFile is the name of a stored release in the release directory.
func ReleaseFile(sha string) string { return sha + ".tbx" }

var releaseName = regexp.MustCompile(`^[0-9a-f]{64}\.tbx$`)

// AddRelease checks the bundle in file with the trusted release keys (signature of the
// manifest and the payload's SHA-256), copies it into dir under its content's SHA-256
// (unless url is given: tills then fetch it there), and records it. Adding the same
// bundle twice is no change; another bundle under a version already recorded is refused.
func AddRelease(ctx context.Context, docs Docs, dir, file, url string, trusted []ed25519.PublicKey) (Release, error) {
	f, err := os.Open(file)
	if err != nil {
		return Release{}, fmt.Errorf("hq: release: %w", err)
	}
	defer f.Close()
	b, err := bundle.Open(f, trusted)
	if err != nil {
		return Release{}, fmt.Errorf("hq: release %s: %w: %w", file, ErrRelease, err)
	}
	if err := b.Verify(); err != nil {
		return Release{}, fmt.Errorf("hq: release %s: %w: %w", file, ErrRelease, err)
	}
	m := b.Manifest
	if url != "" {
		if err := checkURL(url); err != nil {
			return Release{}, err
		}
	}
	h := sha256.New()
	var tmp *os.File
	var w io.Writer = h
	if url == "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return Release{}, fmt.Errorf("hq: release: %w", err)
		}
		if tmp, err = os.CreateTemp(dir, ".add-*"); err != nil {
			return Release{}, fmt.Errorf("hq: release: %w", err)
		}
		defer os.Remove(tmp.Name())
		defer tmp.Close()
		w = io.MultiWriter(h, tmp)
	}
	n, err := io.Copy(w, io.NewSectionReader(f, 0, 1<<62))
	if err != nil {
		return Release{}, fmt.Errorf("hq: release: %w", err)
	}
	r := Release{Version: m.Version, Board: m.Board, KeyID: m.KeyID, SHA256: hex.EncodeToString(h.Sum(nil)), Size: n,
		Added: time.Now().UTC().Truncate(time.Second), URL: url}
	if tmp != nil {
		if err := tmp.Sync(); err != nil {
			return Release{}, fmt.Errorf("hq: release: %w", err)
		}
		tmp.Close()
		os.Chmod(tmp.Name(), 0o644)
		if err := os.Rename(tmp.Name(), filepath.Join(dir, ReleaseFile(r.SHA256))); err != nil {
			return Release{}, fmt.Errorf("hq: release: %w", err)
		}
	}
	err = docs.Update(ctx, DocRelease, r.Version, func(old []byte) ([]byte, error) {
		if old != nil {
			var o Release
			if json.Unmarshal(old, &o) == nil && o.SHA256 == r.SHA256 && o.URL == r.URL {
				r = o
				return nil, nil
			}
			return nil, fmt.Errorf("hq: release %s: %w: version %s is recorded already with sha256 %s", file, ErrRelease, r.Version, o.SHA256)
		}
		return json.Marshal(r)
	})
	return r, err
}

func checkURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("hq: release url %q: %w: want an http:// or https:// address", s, ErrRelease)
	}
	return nil
}

// Releases lists the recorded releases, newest version first.
func Releases(ctx context.Context, docs Docs) ([]Release, error) {
	var out []Release
	err := docs.List(ctx, DocRelease, func(_ string, doc []byte) error {
		var r Release
		if err := json.Unmarshal(doc, &r); err != nil {
			return fmt.Errorf("hq: releases: %w", err)
		}
		out = append(out, r)
		return nil
	})
	sort.SliceStable(out, func(i, j int) bool {
		c, err := bundle.CompareVersions(out[i].Version, out[j].Version)
		return err == nil && c > 0
	})
	return out, err
}

// GetRelease returns the release of version v.
func GetRelease(ctx context.Context, docs Docs, v string) (Release, error) {
	doc, err := docs.Get(ctx, DocRelease, v)
	if err != nil {
		return Release{}, err
	}
	var r Release
	if err := json.Unmarshal(doc, &r); err != nil {
		return Release{}, fmt.Errorf("hq: release %s: %w", v, err)
	}
	return r, nil
}

// ReleaseURL is where tills fetch r: its own URL, or base/releases/SHA.tbx.
func ReleaseURL(r Release, base string) string {
	if r.URL != "" {
		return r.URL
	}
	return strings.TrimSuffix(base, "/") + "/releases/" + ReleaseFile(r.SHA256)
}

// ReleaseServer serves the release directory's bundles at /releases/SHA.tbx, with range
// requests (so a till resumes a cut download) and nothing else.
type ReleaseServer struct{ Dir string }

func (s ReleaseServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	name, ok := strings.CutPrefix(r.URL.Path, "/releases/")
	if !ok || !releaseName.MatchString(name) || (r.Method != http.MethodGet && r.Method != http.MethodHead) {
		http.NotFound(w, r)
		return
	}
	f, err := os.Open(filepath.Join(s.Dir, name))
	if err != nil {
		http.NotFound(w, r)
		return
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		http.Error(w, "release unreadable", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	// The name is the content's digest: it never changes.
	w.Header().Set("ETag", `"`+strings.TrimSuffix(name, ".tbx")+`"`)
	http.ServeContent(w, r, name, fi.ModTime(), f)
}
