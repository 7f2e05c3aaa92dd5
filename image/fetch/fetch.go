package fetch

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Errors callers tell apart (wrapped; test with errors.Is).
var (
	// ErrDigest: the downloaded content's SHA-256 differs from the expected one.
	ErrDigest = errors.New("download does not match its sha256")
	// ErrSize: the server sent more or fewer bytes than expected.
	ErrSize = errors.New("download has the wrong size")
	// ErrHTTP: the server answered with a status that is neither 200 nor 206.
	ErrHTTP = errors.New("unexpected HTTP status")
	// ErrRequest: the arguments cannot name a download.
	ErrRequest = errors.New("bad download request")
)

// Request names one download.
type Request struct {
	URL    string
	SHA256 string // lower-case hex of the whole file
	Size   int64
	// Progress, when set, is called as bytes arrive with the bytes on disk so far, the
	// resumed part included.
	Progress func(done, total int64)
	// Idle ends a download on which no byte arrived for this long (a link that went
	// quiet), keeping what arrived for the next call. Default DefaultIdle.
	Idle time.Duration
}

// DefaultIdle is Request.Idle's default.
const DefaultIdle = time.Minute

var hexDigest = regexp.MustCompile(`^[0-9a-f]{64}$`)

// Path is where Fetch leaves the complete file for digest in dir.
func Path(dir, digest string) string { return filepath.Join(dir, digest+".tbx") }

// Fetch makes sure dir holds the file r names, downloading what is missing with c (nil:
// http.DefaultClient), and returns its path. It returns at once when the file is
// already complete.
func Fetch(ctx context.Context, c *http.Client, dir string, r Request) (string, error) {
	if !hexDigest.MatchString(r.SHA256) || r.Size <= 0 {
		return "", fmt.Errorf("fetch: %w: sha256 %q, size %d", ErrRequest, r.SHA256, r.Size)
	}
	if c == nil {
		c = http.DefaultClient
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("fetch: %w", err)
	}
	final := Path(dir, r.SHA256)
	if fi, err := os.Stat(final); err == nil && fi.Size() == r.Size {
		return final, nil
	}
	part := final + ".part"
	for attempt := 0; ; attempt++ {
		resumed, err := download(ctx, c, part, r)
		if err != nil {
			return "", err
		}
		err = checkFile(part, r)
		if err == nil {
			break
		}
		os.Remove(part)
		if !resumed || attempt > 0 {
			return "", err
		}
		// A resumed part that does not match may hold bytes a power loss damaged: one
		// more try from the start tells that apart from content that is wrong.
	}
	if err := os.Rename(part, final); err != nil {
		return "", fmt.Errorf("fetch: %w", err)
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return final, nil
}

// download brings part up to r.Size bytes and reports whether it resumed earlier bytes.
func download(ctx context.Context, c *http.Client, part string, r Request) (bool, error) {
	f, err := os.OpenFile(part, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return false, fmt.Errorf("fetch: %w", err)
	}
	defer f.Close()
	have, err := f.Seek(0, io.SeekEnd)
	if err != nil {
		return false, fmt.Errorf("fetch: %w", err)
	}
	if have > r.Size {
		if err := f.Truncate(0); err != nil {
			return false, fmt.Errorf("fetch: %w", err)
		}
		have = 0
	}
	if have == r.Size {
		return true, nil
	}
	idle := r.Idle
	if idle <= 0 {
		idle = DefaultIdle
	}
	dctx, cancel := context.WithCancel(ctx)
	defer cancel()
	quiet := time.AfterFunc(idle, cancel)
	defer quiet.Stop()
	req, err := http.NewRequestWithContext(dctx, http.MethodGet, r.URL, nil)
	if err != nil {
		return false, fmt.Errorf("fetch: %w: %v", ErrRequest, err)
	}
	if have > 0 {
		req.Header.Set("Range", "bytes="+strconv.FormatInt(have, 10)+"-")
	}
	resp, err := c.Do(req)
	if err != nil {
		return false, fmt.Errorf("fetch: %s: %w", r.URL, err)
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusPartialContent && have > 0:
		if start, ok := rangeStart(resp.Header.Get("Content-Range")); !ok || start != have {
			return false, fmt.Errorf("fetch: %s: %w: Content-Range %q for a request from byte %d", r.URL, ErrHTTP, resp.Header.Get("Content-Range"), have)
		}
	case resp.StatusCode == http.StatusOK:
		// The server ignored the range (or there was none): start over.
		if err := f.Truncate(0); err != nil {
			return false, fmt.Errorf("fetch: %w", err)
		}
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return false, fmt.Errorf("fetch: %w", err)
		}
		have = 0
	case resp.StatusCode == http.StatusRequestedRangeNotSatisfiable:
		// What is on disk is not a prefix of what the server has: start over next time.
		f.Truncate(0)
		return false, fmt.Errorf("fetch: %s: %w: %s for a request from byte %d", r.URL, ErrHTTP, resp.Status, have)
	default:
		return false, fmt.Errorf("fetch: %s: %w: %s", r.URL, ErrHTTP, resp.Status)
	}
	resumed := have > 0
	buf := make([]byte, 256<<10)
	// One byte more than is missing is read, so that a body that is too long is seen.
	body := io.LimitReader(resp.Body, r.Size-have+1)
	sinceSync := int64(0)
	for {
		n, rerr := body.Read(buf)
		quiet.Reset(idle)
		if n > 0 {
			if have+int64(n) > r.Size {
				f.Truncate(0)
				return false, fmt.Errorf("fetch: %s: %w: more than %d bytes", r.URL, ErrSize, r.Size)
			}
			if _, err := f.Write(buf[:n]); err != nil {
				return resumed, fmt.Errorf("fetch: %w", err)
			}
			have += int64(n)
			if sinceSync += int64(n); sinceSync >= 4<<20 {
				// What a power loss keeps is then at most a few MiB behind.
				f.Sync()
				sinceSync = 0
			}
			if r.Progress != nil {
				r.Progress(have, r.Size)
			}
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			f.Sync()
			if dctx.Err() != nil && ctx.Err() == nil {
				rerr = fmt.Errorf("no data for %s: %w", idle, rerr)
			}
			return resumed, fmt.Errorf("fetch: %s: cut at byte %d of %d (resumed at the next try): %w", r.URL, have, r.Size, rerr)
		}
	}
	if err := f.Sync(); err != nil {
		return resumed, fmt.Errorf("fetch: %w", err)
	}
	if have != r.Size {
		return resumed, fmt.Errorf("fetch: %s: %w: the body ended at byte %d of %d (resumed at the next try)", r.URL, ErrSize, have, r.Size)
	}
	return resumed, nil
}

// rangeStart reads the first byte of "bytes START-END/SIZE".
func rangeStart(cr string) (int64, bool) {
	s, ok := strings.CutPrefix(cr, "bytes ")
	if !ok {
		return 0, false
	}
	s, _, ok = strings.Cut(s, "-")
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil
}

// checkFile compares the file at path with r's size and digest.
func checkFile(path string, r Request) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("fetch: %w", err)
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return fmt.Errorf("fetch: %w", err)
	}
	if n != r.Size {
		return fmt.Errorf("fetch: %s: %w: %d bytes, want %d", r.URL, ErrSize, n, r.Size)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != r.SHA256 {
		return fmt.Errorf("fetch: %s: %w: got %s, want %s", r.URL, ErrDigest, got, r.SHA256)
	}
	return nil
}
