package hq_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"tillbox/image/bundle"
	"tillbox/uplink/hq"
	"tillbox/uplink/rig"
	"tillbox/uplink/wire"
)

func TestParseStages(t *testing.T) {
	got, err := hq.ParseStages("5%,25%, 100%")
	if err != nil || fmt.Sprint(got) != "[5 25 100]" {
		t.Fatalf("got %v, %v", got, err)
	}
	for _, bad := range []string{"", "50%", "25%,5%,100%", "0%,100%", "5%,110%", "x,100%", "100%,100%"} {
		if _, err := hq.ParseStages(bad); !errors.Is(err, hq.ErrRollout) {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

func writeBundle(t *testing.T, dir string, key ed25519.PrivateKey, board, version string) string {
	t.Helper()
	rootfs := make([]byte, 20000)
	rand.Read(rootfs)
	var b bytes.Buffer
	if _, err := bundle.Create(&b, bundle.Manifest{Board: board, Version: version}, bytes.NewReader(rootfs), int64(len(rootfs)), key); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, board+"-"+version+".tbx")
	if err := os.WriteFile(p, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestReleasesAndRollouts runs, on each store kind: the document store (one transaction
// per update: concurrent increments lose none), releases (checked, content-addressed,
// served with ranges; refused when unsigned, damaged or a second content for a version),
// and a rollout driven by the controller through Mosquitto, with tills played by a raw
// client: stage by stage, an automatic pause on a failure, resume, and abort withdrawing
// the desired firmware.
func TestReleasesAndRollouts(t *testing.T) {
	mq := rig.StartMosquitto(t, nil)
	stores(t, func(t *testing.T, st hq.Store) {
		ctx := context.Background()
		// Several head offices start at once on a new store: each creates what it needs.
		var wg sync.WaitGroup
		opened := make([]hq.Docs, 6)
		for i := range opened {
			wg.Add(1)
			go func() {
				defer wg.Done()
				var err error
				if opened[i], err = hq.OpenDocs(ctx, st); err != nil {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		docs := opened[0]
		if t.Failed() {
			t.FailNow()
		}
		// Documents: concurrent read-modify-writes of one document.
		for i := 0; i < 8; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for j := 0; j < 10; j++ {
					err := docs.Update(ctx, hq.DocGroup, "counter", func(old []byte) ([]byte, error) {
						var n struct{ N int }
						if old != nil {
							json.Unmarshal(old, &n)
						}
						n.N++
						return json.Marshal(n)
					})
					if err != nil {
						t.Error(err)
					}
				}
			}()
		}
		wg.Wait()
		if b, err := docs.Get(ctx, hq.DocGroup, "counter"); err != nil || !bytes.Contains(b, []byte(`"N": 80`)) && !bytes.Contains(b, []byte(`"N":80`)) {
			t.Fatalf("counter after 80 increments: %s, %v", b, err)
		}
		docs.Delete(ctx, hq.DocGroup, "counter")
		if _, err := docs.Get(ctx, hq.DocGroup, "counter"); !errors.Is(err, hq.ErrNotFound) {
			t.Fatalf("deleted document: %v", err)
		}

		// Releases.
		dir := t.TempDir()
		pub, key, _ := ed25519.GenerateKey(rand.Reader)
		_, otherKey, _ := ed25519.GenerateKey(rand.Reader)
		trusted := []ed25519.PublicKey{pub}
		relDir := filepath.Join(dir, "releases")
		good := writeBundle(t, dir, key, "qemu-virt", "1.1.0")
		r, err := hq.AddRelease(ctx, docs, relDir, good, "", trusted)
		if err != nil {
			t.Fatal(err)
		}
		stored, _ := os.ReadFile(filepath.Join(relDir, hq.ReleaseFile(r.SHA256)))
		orig, _ := os.ReadFile(good)
		if !bytes.Equal(stored, orig) || r.Size != int64(len(orig)) || r.Board != "qemu-virt" {
			t.Fatalf("stored release %+v differs from the bundle", r)
		}
		if again, err := hq.AddRelease(ctx, docs, relDir, good, "", trusted); err != nil || again != r {
			t.Fatalf("the same bundle again: %+v, %v", again, err)
		}
		second := writeBundle(t, t.TempDir(), key, "qemu-virt", "1.1.0")
		unsigned := writeBundle(t, t.TempDir(), otherKey, "qemu-virt", "1.2.0")
		damaged := writeBundle(t, t.TempDir(), key, "qemu-virt", "1.3.0")
		b, _ := os.ReadFile(damaged)
		b[len(b)-1] ^= 1
		os.WriteFile(damaged, b, 0o644)
		for name, f := range map[string]string{"another content for 1.1.0": second, "unsigned": unsigned, "damaged": damaged} {
			if _, err := hq.AddRelease(ctx, docs, relDir, f, "", trusted); !errors.Is(err, hq.ErrRelease) {
				t.Errorf("%s: %v", name, err)
			}
		}
		if _, err := hq.AddRelease(ctx, docs, relDir, writeBundle(t, dir, key, "qemu-virt", "1.4.0"), "ftp://x/y", trusted); !errors.Is(err, hq.ErrRelease) {
			t.Errorf("an ftp url: %v", err)
		}
		rs, err := hq.Releases(ctx, docs)
		if err != nil || len(rs) != 1 || rs[0].Version != "1.1.0" {
			t.Fatalf("releases: %+v, %v", rs, err)
		}
		srv := httptest.NewServer(hq.ReleaseServer{Dir: relDir})
		defer srv.Close()
		req, _ := http.NewRequest("GET", hq.ReleaseURL(r, srv.URL), nil)
		req.Header.Set("Range", "bytes=100-199")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		part, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusPartialContent || !bytes.Equal(part, orig[100:200]) {
			t.Fatalf("range request: %s, %d bytes", resp.Status, len(part))
		}
		for _, p := range []string{"/releases/../hq.db", "/releases/" + strings.Repeat("0", 64) + ".tbx", "/other"} {
			if resp, err := http.Get(srv.URL + p); err != nil || resp.StatusCode != http.StatusNotFound {
				t.Errorf("%s: %v %v", p, resp.Status, err)
			}
		}

		// A rollout of five tills in group g: 20% (one till), 60% (two), 100% (two).
		for i := 1; i <= 5; i++ {
			if err := hq.SetGroup(ctx, docs, hq.TillKey{Store: "s042", Till: fmt.Sprintf("t%02d", i)}, "g"); err != nil {
				t.Fatal(err)
			}
		}
		hq.SetGroup(ctx, docs, hq.TillKey{Store: "s042", Till: "t09"}, "other")
		// Tags beside groups: setting one keeps the other.
		for _, till := range []string{"t01", "t03", "t09"} {
			if err := hq.SetTags(ctx, docs, hq.TillKey{Store: "s042", Till: till}, []string{"bakery", "lane-1"}); err != nil {
				t.Fatal(err)
			}
		}
		hq.SetGroup(ctx, docs, hq.TillKey{Store: "s042", Till: "t03"}, "g")
		if err := hq.SetTags(ctx, docs, hq.TillKey{Store: "s042", Till: "t05"}, []string{"Bad Tag"}); !errors.Is(err, hq.ErrRollout) {
			t.Fatalf("a bad tag: %v", err)
		}
		ms, err := hq.Memberships(ctx, docs)
		if err != nil || ms[hq.TillKey{Store: "s042", Till: "t09"}].Group != "other" || !ms[hq.TillKey{Store: "s042", Till: "t03"}].HasTag("lane-1") {
			t.Fatalf("memberships %+v, %v", ms, err)
		}
		tagged, err := hq.CreateRollout(ctx, docs, st, hq.RolloutSpec{ID: "by-tag", Release: "1.1.0", Tag: "bakery", BaseURL: srv.URL})
		if err != nil {
			t.Fatal(err)
		}
		if got := stagesOf(tagged); got != "t01:1 t03:1 t09:1" || tagged.Target != "tag bakery" {
			t.Fatalf("by tag: %s (%s)", got, tagged.Target)
		}
		if _, err := hq.CreateRollout(ctx, docs, st, hq.RolloutSpec{Release: "1.1.0", Tag: "bakery", Group: "g", BaseURL: srv.URL}); !errors.Is(err, hq.ErrRollout) {
			t.Fatalf("a tag and a group: %v", err)
		}
		if _, err := hq.AbortRollout(ctx, docs, "by-tag"); err != nil {
			t.Fatal(err)
		}
		if _, err := hq.CreateRollout(ctx, docs, st, hq.RolloutSpec{Release: "1.1.0", Group: "g"}); !errors.Is(err, hq.ErrRollout) {
			t.Fatalf("a rollout of a head office release without its address: %v", err)
		}
		if _, err := hq.CreateRollout(ctx, docs, st, hq.RolloutSpec{Release: "1.1.0", Group: "nobody", BaseURL: srv.URL}); !errors.Is(err, hq.ErrRollout) {
			t.Fatalf("a rollout of an empty group: %v", err)
		}
		ro, err := hq.CreateRollout(ctx, docs, st, hq.RolloutSpec{ID: "r1", Release: "1.1.0", Group: "g", Stages: []int{20, 60, 100}, PauseOnFailures: 1, BaseURL: srv.URL})
		if err != nil {
			t.Fatal(err)
		}
		if got := stagesOf(ro); got != "t01:1 t02:2 t03:2 t04:3 t05:3" {
			t.Fatalf("stages %s", got)
		}
		if _, err := hq.CreateRollout(ctx, docs, st, hq.RolloutSpec{ID: "r1", Release: "1.1.0", Group: "g", BaseURL: srv.URL}); !errors.Is(err, hq.ErrRollout) {
			t.Fatalf("a second rollout r1: %v", err)
		}

		ctl := &hq.RolloutController{Docs: docs, Store: st, Options: hq.Options{Broker: mq.URL()}, Tick: 100 * time.Millisecond}
		cctx, cancel := context.WithCancel(ctx)
		defer cancel()
		go ctl.Run(cctx)
		fleet := newPlayedFleet(t, mq.URL())
		report := func(till, step string) {
			e := wire.UpdateEvent(wire.UpdateReport{Rollout: "r1", Version: "1.1.0", Step: step, Error: "played"})
			e.At = time.Now()
			p, _ := wire.EncodeEvent(e)
			fleet.cli.Publish(wire.Topics{}.Event("s042", till), 1, false, p).Wait()
		}
		wait := func(what string, cond func(hq.Rollout) bool) hq.Rollout {
			t.Helper()
			for deadline := time.Now().Add(20 * time.Second); ; {
				r, err := hq.GetRollout(ctx, docs, "r1")
				if err == nil && cond(r) {
					return r
				}
				if time.Now().After(deadline) {
					t.Fatalf("%s: rollout %+v, %v", what, r, err)
				}
				time.Sleep(50 * time.Millisecond)
			}
		}
		fleet.waitDesired(t, "t01", true)
		d := fleet.desired("t01")
		if d.Version != "1.1.0" || d.SHA256 != r.SHA256 || d.Size != r.Size || d.URL != hq.ReleaseURL(r, srv.URL) || d.Rollout != "r1" {
			t.Fatalf("t01's desired firmware %+v", d)
		}
		if fleet.has("t02") {
			t.Fatal("stage 2 asked before stage 1 confirmed")
		}
		report("t01", wire.StepDownloading)
		report("t01", wire.StepConfirmed)
		fleet.waitDesired(t, "t02", true)
		fleet.waitDesired(t, "t03", true)
		report("t02", wire.StepConfirmed)
		report("t03", wire.StepRefused)
		ro = wait("paused", func(r hq.Rollout) bool { return r.State == hq.RolloutPaused })
		if ro.Stage != 1 || !strings.Contains(ro.Reason, "1 failures") {
			t.Fatalf("paused at stage %d: %q", ro.Stage+1, ro.Reason)
		}
		time.Sleep(500 * time.Millisecond)
		if fleet.has("t04") {
			t.Fatal("a paused rollout asked stage 3")
		}
		if _, err := hq.ResumeRollout(ctx, docs, "r1"); err != nil {
			t.Fatal(err)
		}
		fleet.waitDesired(t, "t04", true)
		fleet.waitDesired(t, "t05", true)
		report("t04", wire.StepConfirmed)
		if _, err := hq.PauseRollout(ctx, docs, "r1"); err != nil {
			t.Fatal(err)
		}
		if _, err := hq.AbortRollout(ctx, docs, "r1"); err != nil {
			t.Fatal(err)
		}
		// Withdrawn where the release is not running; kept where it is confirmed.
		fleet.waitDesired(t, "t05", false)
		fleet.waitDesired(t, "t03", false)
		for _, till := range []string{"t01", "t02", "t04"} {
			if !fleet.has(till) {
				t.Errorf("%s runs the release, but its desired firmware was withdrawn", till)
			}
		}
		ro = wait("aborted", func(r hq.Rollout) bool { return r.State == hq.RolloutAborted && r.Cleaned })
		sum := ro.Summary()
		if sum[0].Confirmed != 1 || sum[1].Confirmed != 1 || sum[1].Failed != 1 || sum[2].Confirmed != 1 || sum[2].Active != 1 {
			t.Fatalf("summary %+v", sum)
		}
		if _, err := hq.ResumeRollout(ctx, docs, "r1"); !errors.Is(err, hq.ErrRollout) {
			t.Fatalf("resume an aborted rollout: %v", err)
		}
		page := httptest.NewServer(hq.RolloutPage{Docs: docs})
		defer page.Close()
		var views []hq.RolloutView
		if resp, err := http.Get(page.URL + "/api/rollouts"); err != nil {
			t.Fatal(err)
		} else {
			json.NewDecoder(resp.Body).Decode(&views)
			resp.Body.Close()
		}
		if len(views) != 2 || views[0].ID != "r1" || views[0].State != hq.RolloutAborted || len(views[0].Summary) != 3 || views[0].Summary[1].Failed != 1 {
			t.Fatalf("/api/rollouts: %+v", views)
		}
		resp, err = http.Get(page.URL + "/rollouts")
		if err != nil {
			t.Fatal(err)
		}
		html, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		for _, want := range []string{"r1: release 1.1.0 (qemu-virt), group g", "aborted: aborted by hand, stage 3 of 3", "<td>t03</td><td>2</td><td>refused</td>"} {
			if !strings.Contains(string(html), want) {
				t.Fatalf("/rollouts lacks %q:\n%s", want, html)
			}
		}
		fleet.clear(t)
	})
}

func stagesOf(r hq.Rollout) string {
	var s []string
	for _, t := range r.Tills {
		s = append(s, fmt.Sprintf("%s:%d", t.Till, t.Stage+1))
	}
	sort.Strings(s)
	return strings.Join(s, " ")
}

// playedFleet watches the retained desired firmware of store s042's tills.
type playedFleet struct {
	cli mqtt.Client
	mu  sync.Mutex
	got map[string]wire.Desired
}

func newPlayedFleet(t *testing.T, broker string) *playedFleet {
	f := &playedFleet{got: map[string]wire.Desired{}}
	f.cli = mqtt.NewClient(mqtt.NewClientOptions().AddBroker(broker).SetClientID(fmt.Sprintf("played-%d", time.Now().UnixNano())))
	if tok := f.cli.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	t.Cleanup(func() { f.cli.Disconnect(100) })
	tok := f.cli.Subscribe("tillbox/v1/s042/+/desired", 1, func(_ mqtt.Client, m mqtt.Message) {
		till := strings.Split(m.Topic(), "/")[3]
		f.mu.Lock()
		defer f.mu.Unlock()
		if len(m.Payload()) == 0 {
			delete(f.got, till)
			return
		}
		if d, err := wire.DecodeDesired(m.Payload()); err == nil {
			f.got[till] = d
		}
	})
	if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	return f
}

func (f *playedFleet) has(till string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	_, ok := f.got[till]
	return ok
}

func (f *playedFleet) desired(till string) wire.Desired {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.got[till]
}

func (f *playedFleet) waitDesired(t *testing.T, till string, want bool) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); f.has(till) != want; {
		if time.Now().After(deadline) {
			t.Fatalf("%s: desired firmware present %v, want %v", till, !want, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// clear removes the retained messages, so that the next store kind's run starts clean.
func (f *playedFleet) clear(t *testing.T) {
	for i := 1; i <= 5; i++ {
		f.cli.Publish(fmt.Sprintf("tillbox/v1/s042/t%02d/desired", i), 1, true, []byte{}).Wait()
	}
	for i := 1; i <= 5; i++ {
		f.waitDesired(t, fmt.Sprintf("t%02d", i), false)
	}
}
