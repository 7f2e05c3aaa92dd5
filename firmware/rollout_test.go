package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"tillbox/image/bundle"
	"tillbox/image/update"
	"tillbox/uplink/hq"
	"tillbox/uplink/identity"
	"tillbox/uplink/rig"
	"tillbox/uplink/wire"
)

// buildVersions builds the real tillbox once per firmware version.
func buildVersions(t *testing.T, versions ...string) map[string]string {
	t.Helper()
	dir := t.TempDir()
	out := map[string]string{}
	for _, v := range versions {
		bin := filepath.Join(dir, "tillbox-"+v)
		cmd := exec.Command("go", "build", "-ldflags", "-X main.version="+v, "-o", bin, ".")
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("build %s: %v\n%s", v, err, b)
		}
		out[v] = bin
	}
	return out
}

// releaseKey is a bundle signing key and its public key file.
func releaseKey(t *testing.T, dir string) (ed25519.PrivateKey, string) {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, fmt.Sprintf("release-%x.pub", pub[:4]))
	if err := os.WriteFile(path, bundle.MarshalPublic(pub), 0o644); err != nil {
		t.Fatal(err)
	}
	return priv, path
}

// testBundle is a bundle file and what a desired firmware says of it.
type testBundle struct {
	path, sha string
	body      []byte
	version   string
	rootfs    []byte
}

func makeBundle(t *testing.T, dir string, key ed25519.PrivateKey, board, version string, size int) testBundle {
	t.Helper()
	rootfs := make([]byte, size)
	rand.Read(rootfs)
	var b bytes.Buffer
	if _, err := bundle.Create(&b, bundle.Manifest{Board: board, Version: version}, bytes.NewReader(rootfs), int64(size), key); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b.Bytes())
	p := filepath.Join(dir, board+"-"+version+".tbx")
	if err := os.WriteFile(p, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return testBundle{path: p, sha: hex.EncodeToString(sum[:]), body: b.Bytes(), version: version, rootfs: rootfs}
}

// fleetBox is one till box in a temp dir with slots as files, booted by a stand-in for the
// stage-1 init: it picks the slot (Choose), settles a failed try, writes the layout, runs
// the firmware of the booted slot's version, confirms a try once the firmware is up (or,
// with failTry, rolls it back as a failed health check would), and boots again when the
// firmware exits for its try or is killed.
type fleetBox struct {
	t              *testing.T
	store, till    string
	dir, data, cfg string
	events, log    string
	layout         string
	slots          update.Slots
	keys           string
	board          string
	bins           map[string]string
	failTry        bool

	mu    sync.Mutex
	proc  *exec.Cmd
	boots int
	done  chan struct{}
	stop  context.CancelFunc
}

func newFleetBox(t *testing.T, bins map[string]string, keys, broker, store, till, running string) *fleetBox {
	t.Helper()
	dir := t.TempDir()
	b := &fleetBox{t: t, store: store, till: till, dir: dir, data: filepath.Join(dir, "data"), cfg: filepath.Join(dir, "till.json"),
		events: filepath.Join(dir, "events.jsonl"), log: filepath.Join(dir, "log"), layout: filepath.Join(dir, "layout.json"),
		slots: update.Slots{A: filepath.Join(dir, "a"), B: filepath.Join(dir, "b"), Env: filepath.Join(dir, "grubenv")},
		keys:  keys, board: "qemu-virt", bins: bins, done: make(chan struct{})}
	os.WriteFile(b.slots.A, []byte("running rootfs"), 0o600)
	os.WriteFile(b.slots.B, nil, 0o600)
	if err := b.slots.Init(running); err != nil {
		t.Fatal(err)
	}
	cfg := fmt.Sprintf(`{"store":%q,"till":%q,"data":%q,"uplink":{"broker":%q,"embedded":false,"resend_after":"1s","backoff_min":"100ms","backoff_max":"1s"}}`,
		store, till, b.data, broker)
	if err := os.WriteFile(b.cfg, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return b
}

func (b *fleetBox) start() {
	ctx, cancel := context.WithCancel(context.Background())
	b.stop = cancel
	go b.boot(ctx)
	b.t.Cleanup(b.shutdown)
}

// shutdown stops the firmware and the box.
func (b *fleetBox) shutdown() {
	b.stop()
	b.signal(syscall.SIGTERM)
	select {
	case <-b.done:
	case <-time.After(20 * time.Second):
		b.signal(syscall.SIGKILL)
		<-b.done
	}
}

func (b *fleetBox) signal(sig syscall.Signal) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.proc != nil && b.proc.Process != nil {
		b.proc.Process.Signal(sig)
	}
}

// powerCut kills the firmware at once; the box boots again.
func (b *fleetBox) powerCut() { b.signal(syscall.SIGKILL) }

func (b *fleetBox) status(s update.Status) {
	s.At = time.Now().UTC()
	if err := update.WriteStatus(filepath.Join(b.data, update.StatusFile), s); err != nil {
		b.t.Error(err)
	}
}

func (b *fleetBox) boot(ctx context.Context) {
	defer close(b.done)
	for ctx.Err() == nil {
		os.MkdirAll(b.data, 0o700)
		slot, trying, err := b.slots.Choose()
		if err != nil {
			b.t.Errorf("%s: choose: %v", b.till, err)
			return
		}
		if out, err := b.slots.Settle(slot, trying); err != nil {
			b.t.Errorf("%s: settle: %v", b.till, err)
			return
		} else if out.RolledBack {
			b.status(update.Status{State: update.StatusFailed, Version: out.Version, Detail: "the try did not confirm"})
		}
		st, _ := b.slots.State()
		version := st.ActiveVersion
		if trying {
			version = st.NextVersion
			if b.failTry {
				// The tried firmware fails its health check: back to the active slot.
				if err := b.slots.Rollback(slot); err != nil {
					b.t.Errorf("%s: roll back: %v", b.till, err)
					return
				}
				b.status(update.Status{State: update.StatusFailed, Version: version, Detail: "health check failed"})
				continue
			}
		}
		bin, ok := b.bins[version]
		if !ok {
			b.t.Errorf("%s: no firmware for version %q in slot %s", b.till, version, slot)
			return
		}
		if err := update.WriteLayout(b.layout, update.Layout{Slots: b.slots, Booted: slot, Trying: trying, Keys: b.keys, Board: b.board, Version: version}); err != nil {
			b.t.Error(err)
			return
		}
		cmd := exec.Command(bin, "run", "--config", b.cfg, "--layout", b.layout, "--events", b.events, "--log", b.log)
		if f, err := os.OpenFile(b.log+".stderr", os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600); err == nil {
			cmd.Stdout, cmd.Stderr = f, f
			defer f.Close()
		}
		if err := cmd.Start(); err != nil {
			b.t.Error(err)
			return
		}
		b.mu.Lock()
		b.proc = cmd
		b.boots++
		b.mu.Unlock()
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		if trying {
			select {
			case err := <-exited:
				if ctx.Err() != nil {
					return
				}
				b.t.Errorf("%s: the tried firmware exited at once: %v\n%s", b.till, err, rig.Tail(b.log, 20))
				return
			case <-time.After(1500 * time.Millisecond):
			}
			if err := b.slots.Confirm(slot); err != nil {
				b.t.Errorf("%s: confirm: %v", b.till, err)
			}
			b.status(update.Status{State: update.StatusConfirmed, Version: version})
			cmd.Process.Signal(syscall.SIGUSR1)
		}
		err = <-exited
		var ee *exec.ExitError
		if errors.As(err, &ee) && ee.ExitCode() == update.ExitRebootForTry {
			continue
		}
		if ctx.Err() == nil {
			time.Sleep(200 * time.Millisecond) // killed: the power comes back
		}
	}
}

// eventLines returns the fleet-update events the till wrote.
func (b *fleetBox) updateEvents() []map[string]any {
	raw, _ := os.ReadFile(b.events)
	var out []map[string]any
	for _, l := range strings.Split(string(raw), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(l), &m) == nil && m["t"] == "fleet-update" {
			out = append(out, m)
		}
	}
	return out
}

func (b *fleetBox) state() update.State {
	st, err := b.slots.State()
	if err != nil {
		b.t.Fatal(err)
	}
	return st
}

// fleetWatch is head office's side of the broker for the tests: it collects the tills'
// update reports and statuses and publishes desired firmware.
type fleetWatch struct {
	cli     mqtt.Client
	mu      sync.Mutex
	reports map[string][]wire.UpdateReport // by "store/till"
	running map[string]string
}

func watchFleet(t *testing.T, broker string) *fleetWatch {
	t.Helper()
	w := &fleetWatch{reports: map[string][]wire.UpdateReport{}, running: map[string]string{}}
	o := mqtt.NewClientOptions().AddBroker(broker).SetClientID(fmt.Sprintf("watch-%d", time.Now().UnixNano())).SetConnectTimeout(5 * time.Second)
	w.cli = mqtt.NewClient(o)
	if tok := w.cli.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("connect: %v", tok.Error())
	}
	t.Cleanup(func() { w.cli.Disconnect(100) })
	topics := wire.Topics{}
	tok := w.cli.SubscribeMultiple(map[string]byte{topics.AllTills(wire.KindEvent): 1, topics.AllTills(wire.KindStatus): 1}, func(_ mqtt.Client, m mqtt.Message) {
		tp, err := topics.Parse(m.Topic())
		if err != nil {
			return
		}
		k := tp.Store + "/" + tp.Till
		w.mu.Lock()
		defer w.mu.Unlock()
		switch tp.Kind {
		case wire.KindEvent:
			if e, err := wire.DecodeEvent(m.Payload()); err == nil && e.Kind == wire.EventUpdateProgress {
				if r, err := wire.DecodeUpdateReport(e); err == nil {
					w.reports[k] = append(w.reports[k], r)
				}
			}
		case wire.KindStatus:
			if s, err := wire.DecodeStatus(m.Payload()); err == nil && s.State == wire.StateOnline {
				w.running[k] = s.Version
			}
		}
	})
	if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("subscribe: %v", tok.Error())
	}
	return w
}

func (w *fleetWatch) desire(t *testing.T, store, till string, d wire.Desired) {
	t.Helper()
	d.Store, d.Till, d.Issued = store, till, time.Now().UTC().Truncate(time.Second)
	p, err := wire.EncodeDesired(d)
	if err != nil {
		t.Fatal(err)
	}
	if tok := w.cli.Publish(wire.Topics{}.Desired(store, till), 1, true, p); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("publish desired: %v", tok.Error())
	}
}

// waitReport waits for a report of version at step from store/till and returns it.
func (w *fleetWatch) waitReport(t *testing.T, till, version, step string, d time.Duration) wire.UpdateReport {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		w.mu.Lock()
		for _, r := range w.reports[till] {
			if r.Version == version && r.Step == step {
				w.mu.Unlock()
				return r
			}
		}
		all := fmt.Sprint(w.reports[till])
		w.mu.Unlock()
		if time.Now().After(deadline) {
			t.Fatalf("%s: no %s report for %s within %s; reports: %s", till, step, version, d, all)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (w *fleetWatch) waitRunning(t *testing.T, till, version string, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		w.mu.Lock()
		v := w.running[till]
		w.mu.Unlock()
		if v == version {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: runs %q, not %s, after %s", till, v, version, d)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// bundleServer serves bundles by path with ranges, and can end a body early (cut: the
// connection drops; stall: it holds the connection until released, as a link that went
// quiet when the power failed) or serve other bytes than asked for.
type bundleServer struct {
	mu     sync.Mutex
	files  map[string][]byte
	cutAt  map[string]int64 // end the next response's body after this many bytes of the file
	stall  map[string]int64 // stop sending at this offset of the file until released
	ranges map[string][]string
	held   chan struct{}
	addr   string
}

func startBundleServer(t *testing.T) *bundleServer {
	s := &bundleServer{files: map[string][]byte{}, cutAt: map[string]int64{}, stall: map[string]int64{}, ranges: map[string][]string{}, held: make(chan struct{})}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.addr = ln.Addr().String()
	srv := &http.Server{Handler: s}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return s
}

func (s *bundleServer) url(name string) string { return "http://" + s.addr + "/" + name }

func (s *bundleServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	name := strings.TrimPrefix(r.URL.Path, "/")
	s.mu.Lock()
	body, ok := s.files[name]
	s.ranges[name] = append(s.ranges[name], r.Header.Get("Range"))
	cut, hasCut := s.cutAt[name]
	delete(s.cutAt, name)
	stall, hasStall := s.stall[name]
	delete(s.stall, name)
	held := s.held
	s.mu.Unlock()
	if !ok {
		http.NotFound(w, r)
		return
	}
	if !hasCut && !hasStall {
		http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(body))
		return
	}
	var from int64
	if rg := r.Header.Get("Range"); rg != "" {
		fmt.Sscanf(rg, "bytes=%d-", &from)
		w.Header().Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", from, len(body)-1, len(body)))
		w.Header().Set("Content-Length", fmt.Sprint(int64(len(body))-from))
		w.WriteHeader(http.StatusPartialContent)
	} else {
		w.Header().Set("Content-Length", fmt.Sprint(len(body)))
		w.WriteHeader(http.StatusOK)
	}
	end := cut
	if hasStall {
		end = stall
	}
	w.Write(body[from:end])
	w.(http.Flusher).Flush()
	if hasStall {
		select {
		case <-held:
		case <-r.Context().Done():
		}
	}
	panic(http.ErrAbortHandler)
}

func (s *bundleServer) requests(name string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.ranges[name]...)
}

// TestDesiredFirmwareBadInputAndResume drives one real till through the desired firmware
// HQ can publish: a bundle for another board, an older version, a tampered download, a
// bundle signed by an unknown key and a truncated download are each refused or retried,
// reported on the broker, and never reach the slot; then a download cut halfway by the
// server and cut again by a power loss resumes from where it was, and the bundle is
// installed for its try, tried and confirmed.
func TestDesiredFirmwareBadInputAndResume(t *testing.T) {
	bins := buildVersions(t, "1.0.0", "1.4.0")
	mq := rig.StartMosquitto(t, nil)
	dir := t.TempDir()
	key, keys := releaseKey(t, dir)
	other, _ := releaseKey(t, dir)
	const size = 2 << 20
	srv := startBundleServer(t)
	board := makeBundle(t, dir, key, "rpi4", "1.1.0", 64<<10)
	older := makeBundle(t, dir, key, "qemu-virt", "0.9.0", 64<<10)
	tamper := makeBundle(t, dir, key, "qemu-virt", "1.2.0", 64<<10)
	unsigned := makeBundle(t, dir, other, "qemu-virt", "1.3.0", 64<<10)
	good := makeBundle(t, dir, key, "qemu-virt", "1.4.0", size)
	slow := makeBundle(t, dir, key, "qemu-virt", "1.3.5", size)
	tampered := append([]byte(nil), tamper.body...)
	tampered[len(tampered)-10] ^= 0x40
	srv.files["board.tbx"], srv.files["older.tbx"], srv.files["tamper.tbx"] = board.body, older.body, tampered
	srv.files["unsigned.tbx"], srv.files["good.tbx"], srv.files["slow.tbx"] = unsigned.body, good.body, slow.body
	desired := func(b testBundle, name string) wire.Desired {
		return wire.Desired{Version: b.version, URL: srv.url(name), SHA256: b.sha, Size: int64(len(b.body))}
	}

	w := watchFleet(t, mq.URL())
	box := newFleetBox(t, bins, keys, mq.URL(), "s001", "t01", "1.0.0")
	box.start()
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("till log:\n%s\n%s", rig.Tail(box.log, 40), rig.Tail(box.log+".stderr", 20))
		}
	})
	w.waitRunning(t, "s001/t01", "1.0.0", 30*time.Second)
	untouched := func(what string) {
		t.Helper()
		st := box.state()
		slotB, _ := os.ReadFile(box.slots.B)
		if st.Next != "" || st.Try || st.Active != "A" || len(slotB) != 0 {
			t.Fatalf("%s reached the slot: state %+v, slot B %d bytes", what, st, len(slotB))
		}
	}

	for _, c := range []struct {
		name, file string
		b          testBundle
		want       string
	}{
		{"another board", "board.tbx", board, "for board \"rpi4\""},
		{"an older version", "older.tbx", older, "is not newer than the running firmware"},
		{"a tampered download", "tamper.tbx", tamper, "does not match its sha256"},
		{"an unknown signing key", "unsigned.tbx", unsigned, "signature does not verify"},
	} {
		w.desire(t, "s001", "t01", desired(c.b, c.file))
		r := w.waitReport(t, "s001/t01", c.b.version, wire.StepRefused, 30*time.Second)
		if !strings.Contains(r.Error, c.want) {
			t.Fatalf("%s: refused with %q, want %q", c.name, r.Error, c.want)
		}
		untouched(c.name)
	}
	if reqs := srv.requests("older.tbx"); len(reqs) != 0 {
		t.Fatalf("an older desired version was downloaded: %q", reqs)
	}
	// A refused bundle stays refused across a restart: not fetched or journaled again.
	w.mu.Lock()
	delete(w.running, "s001/t01")
	w.mu.Unlock()
	box.powerCut()
	w.waitRunning(t, "s001/t01", "1.0.0", 30*time.Second)
	time.Sleep(3 * time.Second)
	if reqs := srv.requests("unsigned.tbx"); len(reqs) != 1 {
		t.Fatalf("a refused bundle was fetched again after a restart: %q", reqs)
	}

	// Withdrawn while it downloads: the download stops and is removed, nothing installed.
	srv.mu.Lock()
	srv.stall["slow.tbx"] = int64(len(slow.body) / 2)
	srv.mu.Unlock()
	w.desire(t, "s001", "t01", desired(slow, "slow.tbx"))
	slowPart := filepath.Join(box.data, "updates", slow.sha+".tbx.part")
	for deadline := time.Now().Add(30 * time.Second); ; {
		if fi, err := os.Stat(slowPart); err == nil && fi.Size() == int64(len(slow.body)/2) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the slow download never reached its middle")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if tok := w.cli.Publish(wire.Topics{}.Desired("s001", "t01"), 1, true, []byte{}); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	for deadline := time.Now().Add(30 * time.Second); ; {
		if _, err := os.Stat(slowPart); os.IsNotExist(err) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("a withdrawn download was kept")
		}
		time.Sleep(20 * time.Millisecond)
	}
	untouched("a withdrawn download")

	// The good bundle: the first response is cut halfway (the connection drops), the
	// second stalls at three quarters and the power fails; the box boots again and the
	// download resumes from what reached the disk.
	half, most := int64(len(good.body)/2), int64(len(good.body)*3/4)
	srv.mu.Lock()
	srv.cutAt["good.tbx"] = half
	srv.mu.Unlock()
	w.desire(t, "s001", "t01", desired(good, "good.tbx"))
	cut := w.waitReport(t, "s001/t01", "1.4.0", wire.StepDownloading, 30*time.Second)
	_ = cut
	deadline := time.Now().Add(30 * time.Second)
	for {
		var cutReported bool
		w.mu.Lock()
		for _, r := range w.reports["s001/t01"] {
			if r.Version == "1.4.0" && r.Step == wire.StepDownloading && r.Error != "" && r.Bytes == half {
				cutReported = true
			}
		}
		w.mu.Unlock()
		if cutReported {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the cut download was not reported: %v", w.reports["s001/t01"])
		}
		time.Sleep(50 * time.Millisecond)
	}
	untouched("a cut download")
	srv.mu.Lock()
	srv.stall["good.tbx"] = most
	srv.mu.Unlock()
	part := filepath.Join(box.data, "updates", good.sha+".tbx.part")
	for deadline := time.Now().Add(30 * time.Second); ; {
		if fi, err := os.Stat(part); err == nil && fi.Size() == most {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the second request never reached byte %d: ranges %q", most, srv.requests("good.tbx"))
		}
		time.Sleep(20 * time.Millisecond)
	}
	box.powerCut()
	close(srv.held)
	w.waitReport(t, "s001/t01", "1.4.0", wire.StepVerified, 60*time.Second)
	w.waitReport(t, "s001/t01", "1.4.0", wire.StepInstalled, 30*time.Second)
	w.waitReport(t, "s001/t01", "1.4.0", wire.StepTried, 30*time.Second)
	w.waitRunning(t, "s001/t01", "1.4.0", 30*time.Second)
	reqs := srv.requests("good.tbx")
	want := []string{"", fmt.Sprintf("bytes=%d-", half), fmt.Sprintf("bytes=%d-", most)}
	if len(reqs) != 3 || reqs[0] != want[0] || reqs[1] != want[1] || reqs[2] != want[2] {
		t.Fatalf("ranges requested: %q, want %q", reqs, want)
	}
	for deadline := time.Now().Add(20 * time.Second); ; {
		if st := box.state(); st.Active == "B" && st.ActiveVersion == "1.4.0" && !st.Try {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("boot state after the update: %+v", box.state())
		}
		time.Sleep(50 * time.Millisecond)
	}
	slotB, _ := os.ReadFile(box.slots.B)
	if !bytes.Equal(slotB, good.rootfs) {
		t.Fatalf("slot B holds %d bytes that differ from the bundle's root filesystem", len(slotB))
	}
	// The till journals the confirmation when the init signals it; then it may stop.
	for deadline := time.Now().Add(20 * time.Second); ; {
		if b, _ := os.ReadFile(box.events); strings.Contains(string(b), "update 1.4.0 confirmed") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the till never journaled the confirmation")
		}
		time.Sleep(50 * time.Millisecond)
	}
	box.shutdown()
	notes := strings.Join(updateNotes(t, box.data), "\n")
	for _, want := range []string{"update 1.1.0 refused: ", "update 0.9.0 refused: ", "update 1.2.0 refused: ", "update 1.3.0 refused: ",
		"update 1.4.0 installed into slot B", "update 1.4.0 confirmed"} {
		if !strings.Contains(notes, want) {
			t.Fatalf("no %q among the update entries journaled:\n%s", want, notes)
		}
	}
	if n := strings.Count(notes, "update 1.3.0 refused"); n != 1 {
		t.Fatalf("the refusal of 1.3.0 journaled %d times:\n%s", n, notes)
	}
}

// TestStagedRollout runs a rollout with real head office (tillhq on PostgreSQL), Mosquitto
// and four real tills in a group: stage 1 (one till) confirms, stage 2's till fails its
// try and rolls back, which pauses the rollout; stage 3's tills are not asked until it is
// resumed, and then confirm, completing it.
func TestStagedRollout(t *testing.T) {
	bins := buildVersions(t, "1.0.0", "1.1.0")
	work := t.TempDir()
	hqBin := rig.Build(t, "tillbox/uplink/hq/cmd/tillhq", work)
	mq := rig.StartMosquitto(t, nil)
	pg := rig.StartPostgres(t)
	// tillhq runs a subcommand of a command (release add, rollout status, ...) on the store.
	tillhq := func(cmd, sub string, args ...string) string {
		t.Helper()
		out, err := exec.Command(hqBin, append([]string{cmd, sub, "--store", pg.URL}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("tillhq %s %s %s: %v\n%s", cmd, sub, strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	if out, err := exec.Command(hqBin, "migrate", "--store", pg.URL).CombinedOutput(); err != nil {
		t.Fatalf("migrate: %v\n%s", err, out)
	}
	key, keys := releaseKey(t, work)
	rel := makeBundle(t, work, key, "qemu-virt", "1.1.0", 256<<10)
	releases := filepath.Join(work, "releases")
	out := tillhq("release", "add", "--release-keys", keys, "--releases", releases, rel.path)
	if !strings.Contains(out, "release 1.1.0 for board qemu-virt") || !strings.Contains(out, rel.sha) {
		t.Fatalf("release add: %s", out)
	}
	// A bundle no trusted key signed is not a release.
	other, _ := releaseKey(t, work)
	bad := makeBundle(t, t.TempDir(), other, "qemu-virt", "1.2.0", 4096)
	if b, err := exec.Command(hqBin, "release", "add", "--store", pg.URL, "--release-keys", keys, "--releases", releases, bad.path).CombinedOutput(); err == nil || !strings.Contains(string(b), "signature does not verify") {
		t.Fatalf("release add of a bundle signed by an unknown key: %v\n%s", err, b)
	}

	// Head office signs what it sends, the desired firmware included; the tills are
	// provisioned with its key and take nothing else. Their entries are unsigned (no device
	// keys registered), which serve takes only with --insecure.
	ca, err := identity.InitCA(filepath.Join(work, "ca"), "rollout test CA", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	relAddr := fmt.Sprintf("127.0.0.1:%d", rig.FreePort(t))
	web := fmt.Sprintf("127.0.0.1:%d", rig.FreePort(t))
	srv := rig.StartProc(t, "tillhq", work, exec.Command(hqBin, "serve", "--insecure", "--broker", mq.URL(), "--store", pg.URL, "--releases", releases,
		"--release-listen", relAddr, "--http", web, "--sign-key", filepath.Join(work, "ca", identity.SigningKeyFile)))
	defer srv.Stop(10 * time.Second)
	if err := rig.WaitListening(relAddr, 15*time.Second); err != nil {
		t.Fatal(err)
	}

	w := watchFleet(t, mq.URL())
	var boxes []*fleetBox
	for i := 1; i <= 4; i++ {
		b := newFleetBox(t, bins, keys, mq.URL(), "s001", fmt.Sprintf("t%02d", i), "1.0.0")
		b.failTry = i == 2
		for _, args := range [][]string{{"provision", "--config", b.cfg}, {"provision", "--config", b.cfg, "--hq-key", ca.SigningPublicKey()}} {
			if out, err := exec.Command(bins["1.0.0"], args...).CombinedOutput(); err != nil {
				t.Fatalf("%s: tillbox %s: %v\n%s", b.till, strings.Join(args, " "), err, out)
			}
		}
		boxes = append(boxes, b)
		tillhq("group", "set", "s001/"+b.till, "pilot")
		b.start()
	}
	for _, b := range boxes {
		w.waitRunning(t, "s001/"+b.till, "1.0.0", 30*time.Second)
	}
	out = tillhq("rollout", "create", "--id", "r1", "--release", "1.1.0", "--group", "pilot", "--stages", "25%,50%,100%",
		"--pause-on-failures", "1", "--release-url", "http://"+relAddr)
	if !strings.Contains(out, "rollout r1: release 1.1.0 to 4 tills of group pilot in 3 stages") {
		t.Fatalf("rollout create: %s", out)
	}
	status := func() hq.Rollout {
		t.Helper()
		var r hq.Rollout
		if err := json.Unmarshal([]byte(tillhq("rollout", "status", "--json", "r1")), &r); err != nil {
			t.Fatal(err)
		}
		return r
	}
	waitState := func(state string, d time.Duration) hq.Rollout {
		t.Helper()
		deadline := time.Now().Add(d)
		for {
			r := status()
			if r.State == state {
				return r
			}
			if time.Now().After(deadline) {
				t.Fatalf("rollout is %s, not %s, after %s:\n%s", r.State, state, d, tillhq("rollout", "status", "r1"))
			}
			time.Sleep(500 * time.Millisecond)
		}
	}
	steps := func(r hq.Rollout) string {
		var s []string
		for _, t := range r.Tills {
			s = append(s, fmt.Sprintf("%s:%d:%s", t.Till, t.Stage+1, t.Step))
		}
		return strings.Join(s, " ")
	}

	r := waitState(hq.RolloutPaused, 3*time.Minute)
	if got, want := steps(r), "t01:1:confirmed t02:2:rolled-back t03:3:pending t04:3:pending"; got != want || r.Stage != 1 {
		t.Fatalf("paused at stage %d with %s, want stage 2 with %s", r.Stage+1, got, want)
	}
	if !strings.Contains(r.Reason, "1 failures reached the threshold of 1") {
		t.Fatalf("pause reason %q", r.Reason)
	}
	if st := boxes[1].state(); st.Active != "A" || st.Failed != "1.1.0" {
		t.Fatalf("the failed till's boot state: %+v", st)
	}
	// Paused: the third stage's tills are not asked.
	time.Sleep(3 * time.Second)
	if got := steps(status()); !strings.HasSuffix(got, "t03:3:pending t04:3:pending") {
		t.Fatalf("a paused rollout went on: %s", got)
	}
	text := tillhq("rollout", "status", "r1")
	if !strings.Contains(text, "paused: 1 failures") || !hasRow(text, "s001", "t02", "2", "rolled-back") || !hasRow(text, "s001", "t03", "3", "pending") {
		t.Fatalf("rollout status while paused:\n%s", text)
	}

	if out := tillhq("rollout", "resume", "r1"); !strings.Contains(out, "rollout r1: running") {
		t.Fatalf("resume: %s", out)
	}
	r = waitState(hq.RolloutComplete, 3*time.Minute)
	if got, want := steps(r), "t01:1:confirmed t02:2:rolled-back t03:3:confirmed t04:3:confirmed"; got != want {
		t.Fatalf("complete with %s, want %s", got, want)
	}
	for _, b := range []*fleetBox{boxes[0], boxes[2], boxes[3]} {
		if st := b.state(); st.Active != "B" || st.ActiveVersion != "1.1.0" {
			t.Fatalf("%s: boot state %+v", b.till, st)
		}
		slotB, _ := os.ReadFile(b.slots.B)
		if !bytes.Equal(slotB, rel.rootfs) {
			t.Fatalf("%s: slot B differs from the release", b.till)
		}
	}
	// Each till downloaded the release from head office's release server.
	for _, b := range boxes {
		var sawDownload bool
		for _, e := range b.updateEvents() {
			if e["step"] == wire.StepVerified {
				sawDownload = true
			}
		}
		if !sawDownload {
			t.Fatalf("%s never verified a download: %v", b.till, b.updateEvents())
		}
	}
	// The dashboard's server shows it too.
	resp, err := http.Get("http://" + web + "/api/rollouts")
	if err != nil {
		t.Fatal(err)
	}
	var views []hq.RolloutView
	json.NewDecoder(resp.Body).Decode(&views)
	resp.Body.Close()
	if len(views) != 1 || views[0].State != hq.RolloutComplete || views[0].Summary[2].Confirmed != 2 || views[0].Summary[1].Failed != 1 {
		t.Fatalf("/api/rollouts: %+v", views)
	}
	if out := tillhq("rollout", "status"); !strings.Contains(out, "rollout r1  release 1.1.0 (qemu-virt)  group pilot  stage 3 of 3  complete") {
		t.Fatalf("rollout status:\n%s", out)
	}
}

// hasRow reports whether a line of table text starts with the fields want.
func hasRow(text string, want ...string) bool {
	for _, l := range strings.Split(text, "\n") {
		f := strings.Fields(l)
		if len(f) >= len(want) && strings.Join(f[:len(want)], " ") == strings.Join(want, " ") {
			return true
		}
	}
	return false
}
