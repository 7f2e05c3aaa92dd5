package app

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"tillbox/image/bundle"
	"tillbox/image/fetch"
	"tillbox/image/update"
	"tillbox/ledger/journal"
	"tillbox/uplink/wire"
)

// UpdatesDir is where, in the data directory, the desired firmware's bundle is downloaded.
const UpdatesDir = "updates"

// errSaleOpenLater: a background install found a sale open and will try again.
var errSaleOpenLater = errors.New("a sale is open")

// fleetUpdater carries out the desired firmware HQ publishes for this till: it downloads
// the bundle in the background (resuming a cut download), checks it as an install would
// (signature, board, version, payload) before a byte is written to the slot, installs it
// through the run loop only while no sale is open and inside the desired quiet window,
// and reports every step to HQ as an update-progress event.
//
// A desired bundle that was installed or refused is not tried again, across restarts,
// until HQ publishes another one; a download that failed for a passing reason (the
// network, a server that cut the body) is retried with a growing pause.
type fleetUpdater struct {
	a    *App
	dir  string
	hc   *http.Client
	kick chan struct{}
	now  func() time.Time

	mu        sync.Mutex
	want      wire.Desired
	fetching  string             // key of the download under way
	stopFetch context.CancelFunc // ends it

	settled  string              // key of the desired bundle last installed or refused
	verified string              // key of the desired bundle last checked
	waiting  string              // key of the desired bundle last reported waiting
	boot     []wire.UpdateReport // a try's boot, reported once run starts
}

func newFleetUpdater(a *App) *fleetUpdater {
	f := &fleetUpdater{a: a, dir: filepath.Join(a.cfg.Data, UpdatesDir), kick: make(chan struct{}, 1), now: time.Now,
		hc: &http.Client{Transport: &http.Transport{
			Proxy:                 http.ProxyFromEnvironment,
			DialContext:           (&net.Dialer{Timeout: 15 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			TLSHandshakeTimeout:   15 * time.Second,
			ResponseHeaderTimeout: 30 * time.Second,
		}}}
	if b, err := os.ReadFile(filepath.Join(f.dir, settledFile)); err == nil {
		f.settled = strings.TrimSpace(string(b))
	}
	if lay, err := update.ReadLayout(a.slots); err == nil && lay.Trying {
		f.boot = append(f.boot, wire.UpdateReport{Version: a.version, Step: wire.StepTried})
	}
	return f
}

// outcome reports the stage-1 init's decision on a try, as reportUpdate journals it.
func (f *fleetUpdater) outcome(st update.Status) {
	r := wire.UpdateReport{Version: st.Version, Step: wire.StepConfirmed}
	if st.State != update.StatusConfirmed {
		r.Step, r.Error = wire.StepRolledBack, st.Note(f.a.version)
	}
	f.report(r)
}

// desired is the uplink's hand-over of the retained desired firmware.
func (f *fleetUpdater) desired(d wire.Desired) {
	f.mu.Lock()
	f.want = d
	if f.stopFetch != nil && f.fetching != d.Version+" "+d.SHA256 {
		f.stopFetch() // a download HQ no longer desires
	}
	f.mu.Unlock()
	select {
	case f.kick <- struct{}{}:
	default:
	}
}

func (f *fleetUpdater) report(r wire.UpdateReport) {
	f.a.log.Info("fleet update", "version", r.Version, "step", r.Step, "bytes", r.Bytes, "total", r.Total, "err", r.Error)
	f.a.emit("fleet-update", map[string]any{"version": r.Version, "step": r.Step, "bytes": r.Bytes, "total": r.Total, "error": r.Error})
	if f.a.up != nil {
		f.a.up.Alert(wire.UpdateEvent(r))
	}
}

// run carries out the desired firmware until ctx ends.
func (f *fleetUpdater) run(ctx context.Context) {
	for _, r := range f.boot {
		f.report(r)
	}
	var retry <-chan time.Time
	pause := time.Duration(0)
	for {
		select {
		case <-ctx.Done():
			return
		case <-f.kick:
		case <-retry:
		}
		f.mu.Lock()
		d := f.want
		f.mu.Unlock()
		again, transient := f.step(ctx, d)
		switch {
		case !again:
			retry, pause = nil, 0
		case transient:
			pause = min(max(2*pause, 2*time.Second), time.Minute)
			retry = time.After(pause)
		default:
			retry = time.After(2 * time.Second)
		}
	}
}

// step takes d as far as it can go now. again: call it again later (transient: after a
// growing pause, otherwise soon).
func (f *fleetUpdater) step(ctx context.Context, d wire.Desired) (again, transient bool) {
	key := d.Version + " " + d.SHA256
	if d.Version == "" {
		f.tidy("")
		return false, false
	}
	if key == f.settled {
		return false, false
	}
	f.tidy(d.SHA256)
	base := wire.UpdateReport{Rollout: d.Rollout, Version: d.Version}
	refuse := func(err error) (bool, bool) {
		r := base
		r.Step, r.Error = wire.StepRefused, err.Error()
		f.report(r)
		// Journaled too, so that HQ learns of it with the next sync even when the event
		// is lost (HQ was down, the till restarted before it was sent).
		if _, jerr := f.a.led.Append(journal.Entry{Kind: journal.KindUpdate, Reason: "update " + d.Version + " refused: " + err.Error(), Offline: !f.a.online.Load()}); jerr != nil {
			f.a.log.Error("journal update", "err", jerr)
		}
		f.a.notifyUplink()
		f.settle(key)
		return false, false
	}
	if c, err := bundle.CompareVersions(d.Version, f.a.version); err == nil {
		if c == 0 {
			f.settle(key) // already running it
			return false, false
		}
		if c < 0 {
			return refuse(fmt.Errorf("update: desired %s, running %s: %w", d.Version, f.a.version, update.ErrDowngrade))
		}
	}

	// Download, reporting the start and each further quarter.
	next := int64(-1)
	progress := func(done, total int64) {
		if done >= next || done == total {
			r := base
			r.Step, r.Bytes, r.Total = wire.StepDownloading, done, total
			if done < total {
				f.report(r)
			}
			next = done + total/4
		}
	}
	if _, err := os.Stat(fetch.Path(f.dir, d.SHA256)); err != nil {
		progress(partSize(f.dir, d.SHA256), d.Size)
	}
	fctx, stop := context.WithCancel(ctx)
	f.mu.Lock()
	f.fetching, f.stopFetch = key, stop
	f.mu.Unlock()
	path, err := fetch.Fetch(fctx, f.hc, f.dir, fetch.Request{URL: d.URL, SHA256: d.SHA256, Size: d.Size, Progress: progress})
	f.mu.Lock()
	superseded := fctx.Err() != nil && ctx.Err() == nil
	f.fetching, f.stopFetch = "", nil
	f.mu.Unlock()
	stop()
	if err != nil {
		if ctx.Err() != nil {
			return false, false
		}
		if superseded {
			return true, false // the next desired is taken at once
		}
		if errors.Is(err, fetch.ErrDigest) || errors.Is(err, fetch.ErrRequest) {
			return refuse(err)
		}
		r := base
		r.Step, r.Bytes, r.Total, r.Error = wire.StepDownloading, partSize(f.dir, d.SHA256), d.Size, err.Error()
		f.report(r)
		return true, true
	}

	// Everything an install checks, before a byte is written to the slot (and once more
	// by the install itself).
	if f.verified != key {
		m, err := update.CheckFile(f.a.slots, path, update.Options{Running: f.a.version, OpenSale: func() (bool, error) { return false, nil }})
		if err == nil && m.Version != d.Version {
			err = fmt.Errorf("update: the bundle is version %s, HQ desires %s", m.Version, d.Version)
		}
		if err != nil {
			os.Remove(path)
			return refuse(err)
		}
		r := base
		r.Step, r.Bytes, r.Total = wire.StepVerified, d.Size, d.Size
		f.report(r)
		f.verified = key
	}

	wait := func(why string) (bool, bool) {
		if f.waiting != key {
			r := base
			r.Step, r.Error = wire.StepWaiting, why
			f.report(r)
			f.waiting = key
		}
		return true, false
	}
	if !f.still(key) {
		return true, false // HQ changed its mind meanwhile: take the new one
	}
	if !inWindow(d.Window, f.now()) {
		return wait("outside the quiet window " + d.Window)
	}
	req := updateRequest{file: path, background: true, reply: make(chan updateReply, 1)}
	select {
	case f.a.updates <- req:
	case <-ctx.Done():
		return false, false
	}
	var rep updateReply
	select {
	case rep = <-req.reply:
	case <-ctx.Done():
		return false, false
	}
	if errors.Is(rep.err, errSaleOpenLater) {
		return wait("a sale is open")
	}
	os.Remove(path)
	if rep.err != nil {
		return refuse(rep.err)
	}
	r := base
	r.Step = wire.StepInstalled
	f.report(r)
	f.settle(key)
	return false, false
}

// settledFile keeps, in UpdatesDir, the desired bundle last installed or refused, so that
// a restart does not download and refuse it again.
const settledFile = "settled"

func (f *fleetUpdater) settle(key string) {
	f.settled = key
	if err := os.MkdirAll(f.dir, 0o700); err == nil {
		os.WriteFile(filepath.Join(f.dir, settledFile), []byte(key+"\n"), 0o600)
	}
}

// still reports whether key is still what HQ desires.
func (f *fleetUpdater) still(key string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.want.Version+" "+f.want.SHA256 == key
}

// tidy removes every download but keep's (a digest, or "" for all): one HQ no longer
// desires only takes space on the data partition.
func (f *fleetUpdater) tidy(keep string) {
	ents, err := os.ReadDir(f.dir)
	if err != nil {
		return
	}
	for _, e := range ents {
		if e.Name() != settledFile && (keep == "" || !strings.HasPrefix(e.Name(), keep+".")) {
			os.Remove(filepath.Join(f.dir, e.Name()))
		}
	}
}

// partSize is how much of digest's download is on disk.
func partSize(dir, digest string) int64 {
	if fi, err := os.Stat(fetch.Path(dir, digest) + ".part"); err == nil {
		return fi.Size()
	}
	return 0
}

// inWindow reports whether now (local time) is inside the daily window "HH:MM-HH:MM",
// which may wrap midnight; an empty window is always open.
func inWindow(w string, now time.Time) bool {
	if w == "" {
		return true
	}
	var h1, m1, h2, m2 int
	if _, err := fmt.Sscanf(w, "%d:%d-%d:%d", &h1, &m1, &h2, &m2); err != nil {
		return false
	}
	from, to, t := h1*60+m1, h2*60+m2, now.Hour()*60+now.Minute()
	if from <= to {
		return from <= t && t < to
	}
	return t >= from || t < to
}

// handleUpdate is the run loop's side of an update request: a background one finds an
// open sale without journaling a refusal and is tried again later.
func (a *App) handleUpdate(req updateRequest) (update.Result, error) {
	if req.background && a.eng.Sale() != nil {
		return update.Result{}, errSaleOpenLater
	}
	return a.installUpdate(req.file)
}
