package hq

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"tillbox/ledger/journal"
	"tillbox/uplink/wire"
)

// A rollout brings a release to a set of tills in stages. Its tills are fixed when it is
// created (a group, a tag, a store, or every till HQ knows), sorted, and cut into stages by
// cumulative percentages: with 5%,25%,100% the first 5% are stage 1, up to 25% stage 2,
// the rest stage 3; every stage has at least one till.
//
// The controller (RolloutController, run by tillhq serve) publishes each till of the
// current stage its desired firmware, follows the tills' reports, and
//   - pauses the rollout when its unacknowledged failures (refused or rolled back) reach
//     PauseOnFailures: no further till is asked until it is resumed, which acknowledges
//     the failures seen so far;
//   - advances a stage once every till of it has settled (confirmed or failed), or, with
//     Soak, once Soak has passed since the stage began, and completes after the last;
//   - on abort, withdraws the desired firmware of every till that does not run it yet.
//
// What it knows of a till comes from its update-progress events and, so that a report
// lost while HQ was down is made good, from the update entries of its journal in HQ's
// store (installed, confirmed, rolled back, refused, as the till journals them). A till is
// confirmed only by its confirmation, never by the version its status shows: a till on
// its try runs the new version before it is confirmed. Its status counts only for a till
// that runs the release already when its stage begins.

// Rollout states.
const (
	RolloutRunning  = "running"
	RolloutPaused   = "paused"
	RolloutAborted  = "aborted"
	RolloutComplete = "complete"
)

// StepAsked: the till was published its desired firmware and has not reported since.
// StepPending: its stage has not begun.
const (
	StepAsked   = "asked"
	StepPending = "pending"
)

// Rollout is one rollout, as stored.
type Rollout struct {
	ID              string        `json:"id"`
	Release         Release       `json:"release"`
	URL             string        `json:"url"` // where the tills fetch the bundle
	Target          string        `json:"target"`
	Stages          []int         `json:"stages"` // cumulative percentages, the last 100
	PauseOnFailures int           `json:"pause_on_failures"`
	Soak            time.Duration `json:"soak,omitempty"`
	Window          string        `json:"window,omitempty"`
	State           string        `json:"state"`
	Reason          string        `json:"reason,omitempty"`
	Stage           int           `json:"stage"` // index into Stages
	StageStarted    time.Time     `json:"stage_started"`
	Created         time.Time     `json:"created"`
	Updated         time.Time     `json:"updated"`
	Cleaned         bool          `json:"cleaned,omitempty"` // aborted: desired withdrawn
	Tills           []RolloutTill `json:"tills"`
}

// RolloutTill is one till of a rollout.
type RolloutTill struct {
	TillKey
	Stage int       `json:"stage"`
	Step  string    `json:"step"` // StepPending, StepAsked or one of wire's Step*
	Bytes int64     `json:"bytes,omitempty"`
	Total int64     `json:"total,omitempty"`
	Error string    `json:"error,omitempty"`
	At    time.Time `json:"at,omitzero"`
	// Acked: a failure a resume acknowledged; it no longer counts towards the pause.
	Acked bool `json:"acked,omitempty"`
	// JournalAfter is the last seq of the till's journal the controller has read.
	JournalAfter uint64 `json:"journal_after"`
}

// Settled reports whether the till is done with the rollout, well or not.
func (t RolloutTill) Settled() bool { return t.Step == wire.StepConfirmed || t.Failed() }

// Failed reports whether the till's attempt failed.
func (t RolloutTill) Failed() bool {
	return t.Step == wire.StepRefused || t.Step == wire.StepRolledBack
}

// RolloutSpec is what a new rollout is made of.
type RolloutSpec struct {
	ID              string // "" : RELEASE-YYYYMMDDhhmmss
	Release         string // version
	Group           string // tills of this group (tillhq group set), or
	Tag             string // tills with this tag (tillhq group tag), or
	Store           string // every known till of this store, or (all empty) every known till
	Stages          []int
	PauseOnFailures int
	Soak            time.Duration
	Window          string
	// BaseURL is head office's release server as the tills reach it, for a release
	// without its own URL.
	BaseURL string
}

// ErrRollout: a rollout that cannot be created or changed so.
var ErrRollout = errors.New("rollout refused")

// ParseStages reads "5%,25%,100%" (the % is optional): increasing, the last 100.
func ParseStages(s string) ([]int, error) {
	var out []int
	for _, p := range strings.Split(s, ",") {
		var n int
		if _, err := fmt.Sscanf(strings.TrimSuffix(strings.TrimSpace(p), "%"), "%d", &n); err != nil || n <= 0 || n > 100 || (len(out) > 0 && n <= out[len(out)-1]) {
			return nil, fmt.Errorf("hq: stages %q: %w: want increasing percentages ending at 100%%, e.g. 5%%,25%%,100%%", s, ErrRollout)
		}
		out = append(out, n)
	}
	if len(out) == 0 || out[len(out)-1] != 100 {
		return nil, fmt.Errorf("hq: stages %q: %w: the last stage must be 100%%", s, ErrRollout)
	}
	return out, nil
}

// stageOf gives each of n tills its stage: till i is in the first stage whose cumulative
// count (at least one more than the stage before, at most n) exceeds i.
func stageOf(stages []int, n int) []int {
	out := make([]int, n)
	prev := 0
	for s, pct := range stages {
		c := (pct*n + 99) / 100
		c = min(max(c, prev+1), n)
		for i := prev; i < c; i++ {
			out[i] = s
		}
		prev = c
	}
	return out
}

// Membership is what a till belongs to for rollouts: one group and any tags.
type Membership struct {
	Group string   `json:"group,omitempty"`
	Tags  []string `json:"tags,omitempty"`
}

// HasTag reports whether m carries tag.
func (m Membership) HasTag(tag string) bool {
	for _, t := range m.Tags {
		if t == tag {
			return true
		}
	}
	return false
}

// SetGroup puts a till in group g ("" takes it out of any); its tags stay.
func SetGroup(ctx context.Context, docs Docs, k TillKey, g string) error {
	return setMembership(ctx, docs, k, []string{g}, func(m *Membership) { m.Group = g })
}

// SetTags gives a till the tags (none: no tags); its group stays.
func SetTags(ctx context.Context, docs Docs, k TillKey, tags []string) error {
	tags = append([]string(nil), tags...)
	sort.Strings(tags)
	return setMembership(ctx, docs, k, tags, func(m *Membership) { m.Tags = tags })
}

func setMembership(ctx context.Context, docs Docs, k TillKey, names []string, fn func(*Membership)) error {
	if !journal.ValidID(k.Store) || !journal.ValidID(k.Till) {
		return fmt.Errorf("hq: membership of %s: %w: ids are 1-32 of [a-z0-9-]", k, ErrRollout)
	}
	for _, n := range names {
		if n != "" && !journal.ValidID(n) {
			return fmt.Errorf("hq: membership of %s: %w: group or tag %q: 1-32 of [a-z0-9-]", k, ErrRollout, n)
		}
	}
	return docs.Update(ctx, DocGroup, k.String(), func(old []byte) ([]byte, error) {
		var m Membership
		if old != nil {
			json.Unmarshal(old, &m)
		}
		fn(&m)
		return json.Marshal(m)
	})
}

// Memberships maps each till in a group or with a tag to its membership.
func Memberships(ctx context.Context, docs Docs) (map[TillKey]Membership, error) {
	out := map[TillKey]Membership{}
	err := docs.List(ctx, DocGroup, func(key string, doc []byte) error {
		var m Membership
		s, t, ok := strings.Cut(key, "/")
		if !ok || json.Unmarshal(doc, &m) != nil || (m.Group == "" && len(m.Tags) == 0) {
			return nil
		}
		out[TillKey{s, t}] = m
		return nil
	})
	return out, err
}

// CreateRollout records a new running rollout of sp; the controller starts it.
func CreateRollout(ctx context.Context, docs Docs, st Store, sp RolloutSpec) (Rollout, error) {
	rel, err := GetRelease(ctx, docs, sp.Release)
	if err != nil {
		return Rollout{}, fmt.Errorf("hq: rollout: release %s: %w", sp.Release, err)
	}
	if rel.URL == "" && sp.BaseURL == "" {
		return Rollout{}, fmt.Errorf("hq: rollout: %w: release %s is served by head office: give its address (--release-url)", ErrRollout, rel.Version)
	}
	if len(sp.Stages) == 0 {
		sp.Stages = []int{100}
	}
	target, n := "all", 0
	for _, c := range []struct{ what, v string }{{"group", sp.Group}, {"tag", sp.Tag}, {"store", sp.Store}} {
		if c.v != "" {
			target, n = c.what+" "+c.v, n+1
		}
	}
	if n > 1 {
		return Rollout{}, fmt.Errorf("hq: rollout: %w: a group, a tag or a store, only one", ErrRollout)
	}
	members, err := Memberships(ctx, docs)
	if err != nil {
		return Rollout{}, err
	}
	known := map[TillKey]bool{}
	for k := range members {
		known[k] = true
	}
	if sp.Group == "" && sp.Tag == "" {
		tills, err := st.Tills(ctx)
		if err != nil {
			return Rollout{}, err
		}
		for _, t := range tills {
			known[t.TillKey] = true
		}
	}
	var keys []TillKey
	for k := range known {
		switch {
		case sp.Group != "" && members[k].Group != sp.Group,
			sp.Tag != "" && !members[k].HasTag(sp.Tag),
			sp.Store != "" && k.Store != sp.Store:
			continue
		}
		keys = append(keys, k)
	}
	if len(keys) == 0 {
		return Rollout{}, fmt.Errorf("hq: rollout: %w: no till in %s", ErrRollout, target)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i].String() < keys[j].String() })
	now := time.Now().UTC().Truncate(time.Second)
	r := Rollout{ID: sp.ID, Release: rel, URL: ReleaseURL(rel, sp.BaseURL), Target: target, Stages: sp.Stages,
		PauseOnFailures: sp.PauseOnFailures, Soak: sp.Soak, Window: sp.Window, State: RolloutRunning,
		StageStarted: now, Created: now, Updated: now}
	if r.ID == "" {
		r.ID = strings.ReplaceAll(rel.Version, "+", "-") + "-" + now.Format("20060102150405")
	}
	if len(r.ID) > wire.MaxCmdID || strings.ContainsAny(r.ID, " /\t\n") {
		return Rollout{}, fmt.Errorf("hq: rollout %q: %w: want at most %d characters without spaces or slashes", r.ID, ErrRollout, wire.MaxCmdID)
	}
	if _, err := wire.EncodeDesired(wire.Desired{Version: rel.Version, URL: r.URL, SHA256: rel.SHA256, Size: rel.Size, Window: r.Window}); err != nil {
		return Rollout{}, fmt.Errorf("hq: rollout: %w", err)
	}
	for i, s := range stageOf(sp.Stages, len(keys)) {
		after, err := st.Through(ctx, keys[i])
		if err != nil {
			return Rollout{}, err
		}
		r.Tills = append(r.Tills, RolloutTill{TillKey: keys[i], Stage: s, Step: StepPending, JournalAfter: after})
	}
	err = docs.Update(ctx, DocRollout, r.ID, func(old []byte) ([]byte, error) {
		if old != nil {
			return nil, fmt.Errorf("hq: rollout %s: %w: exists already", r.ID, ErrRollout)
		}
		return json.Marshal(r)
	})
	return r, err
}

// GetRollout returns the rollout id.
func GetRollout(ctx context.Context, docs Docs, id string) (Rollout, error) {
	doc, err := docs.Get(ctx, DocRollout, id)
	if err != nil {
		return Rollout{}, err
	}
	var r Rollout
	if err := json.Unmarshal(doc, &r); err != nil {
		return Rollout{}, fmt.Errorf("hq: rollout %s: %w", id, err)
	}
	return r, nil
}

// Rollouts lists every rollout, oldest first.
func Rollouts(ctx context.Context, docs Docs) ([]Rollout, error) {
	var out []Rollout
	err := docs.List(ctx, DocRollout, func(_ string, doc []byte) error {
		var r Rollout
		if err := json.Unmarshal(doc, &r); err != nil {
			return fmt.Errorf("hq: rollouts: %w", err)
		}
		out = append(out, r)
		return nil
	})
	sort.SliceStable(out, func(i, j int) bool { return out[i].Created.Before(out[j].Created) })
	return out, err
}

// changeRollout applies fn to the stored rollout id in one transaction; a rollout fn
// leaves as it was is not written.
func changeRollout(ctx context.Context, docs Docs, id string, fn func(r *Rollout) error) (Rollout, error) {
	var r Rollout
	err := docs.Update(ctx, DocRollout, id, func(old []byte) ([]byte, error) {
		if old == nil {
			return nil, fmt.Errorf("hq: rollout %s: %w", id, ErrNotFound)
		}
		if err := json.Unmarshal(old, &r); err != nil {
			return nil, err
		}
		before, _ := json.Marshal(r)
		if err := fn(&r); err != nil {
			return nil, err
		}
		if after, _ := json.Marshal(r); bytes.Equal(before, after) {
			return nil, nil
		}
		r.Updated = time.Now().UTC().Truncate(time.Second)
		return json.Marshal(r)
	})
	return r, err
}

// PauseRollout stops asking further tills; tills already asked go on.
func PauseRollout(ctx context.Context, docs Docs, id string) (Rollout, error) {
	return changeRollout(ctx, docs, id, func(r *Rollout) error {
		if r.State != RolloutRunning {
			return fmt.Errorf("hq: pause %s: %w: it is %s", id, ErrRollout, r.State)
		}
		r.State, r.Reason = RolloutPaused, "paused by hand"
		return nil
	})
}

// ResumeRollout runs a paused rollout again and acknowledges its failures so far: they no
// longer count towards the automatic pause.
func ResumeRollout(ctx context.Context, docs Docs, id string) (Rollout, error) {
	return changeRollout(ctx, docs, id, func(r *Rollout) error {
		if r.State != RolloutPaused {
			return fmt.Errorf("hq: resume %s: %w: it is %s", id, ErrRollout, r.State)
		}
		r.State, r.Reason = RolloutRunning, ""
		for i := range r.Tills {
			if r.Tills[i].Failed() {
				r.Tills[i].Acked = true
			}
		}
		return nil
	})
}

// AbortRollout ends a rollout; the controller withdraws the desired firmware of every till
// that does not run it yet.
func AbortRollout(ctx context.Context, docs Docs, id string) (Rollout, error) {
	return changeRollout(ctx, docs, id, func(r *Rollout) error {
		if r.State == RolloutComplete || r.State == RolloutAborted {
			return fmt.Errorf("hq: abort %s: %w: it is %s", id, ErrRollout, r.State)
		}
		r.State, r.Reason = RolloutAborted, "aborted by hand"
		return nil
	})
}

// StageSummary counts a stage's tills by where they are.
type StageSummary struct {
	Stage     int `json:"stage"` // from 1
	Percent   int `json:"percent"`
	Tills     int `json:"tills"`
	Pending   int `json:"pending"`
	Active    int `json:"active"` // asked, downloading, verified, waiting, installed, tried
	Confirmed int `json:"confirmed"`
	Failed    int `json:"failed"`
}

// Summary counts each stage's tills.
func (r Rollout) Summary() []StageSummary {
	out := make([]StageSummary, len(r.Stages))
	for i, p := range r.Stages {
		out[i] = StageSummary{Stage: i + 1, Percent: p}
	}
	for _, t := range r.Tills {
		s := &out[t.Stage]
		s.Tills++
		switch {
		case t.Step == StepPending:
			s.Pending++
		case t.Step == wire.StepConfirmed:
			s.Confirmed++
		case t.Failed():
			s.Failed++
		default:
			s.Active++
		}
	}
	return out
}

// failures counts the failures a resume has not acknowledged.
func (r Rollout) failures() int {
	n := 0
	for _, t := range r.Tills {
		if t.Failed() && !t.Acked {
			n++
		}
	}
	return n
}

// RolloutController runs the rollouts recorded in Docs (see Rollout).
type RolloutController struct {
	Docs    Docs
	Store   Store
	Options Options // broker, prefix, SignKey signs the desired firmware
	Logger  *slog.Logger
	Tick    time.Duration // how often rollouts are looked at; default 1s

	mu      sync.Mutex
	reports map[TillKey][]wire.UpdateReport
	running map[TillKey]string // version from the retained status
}

// Run runs the rollouts until ctx is done, reconnecting to the broker when the link drops.
func (c *RolloutController) Run(ctx context.Context) error {
	if c.Tick <= 0 {
		c.Tick = time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	c.reports, c.running = map[TillKey][]wire.UpdateReport{}, map[TillKey]string{}
	o := c.Options
	if o.ClientID == "" {
		o.ClientID = sessionID("rollout")
	}
	topics := wire.Topics{Prefix: o.Prefix}
	return o.watchTills(ctx, "rollout", func(_ mqtt.Client, m mqtt.Message) { c.observe(topics, m.Topic(), m.Payload()) },
		func(cli mqtt.Client, lost <-chan error) error { return c.loop(ctx, cli, lost) },
		func(err error) { c.Logger.Warn("hq: rollout controller", "err", err) })
}

func (c *RolloutController) loop(ctx context.Context, cli mqtt.Client, lost <-chan error) error {
	t := time.NewTicker(c.Tick)
	defer t.Stop()
	for {
		if err := c.reconcile(ctx, cli); err != nil {
			c.Logger.Warn("hq: rollout", "err", err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case err := <-lost:
			return err
		case <-t.C:
		}
	}
}

// observe keeps, under the mutex and without blocking paho, what the tills report.
func (c *RolloutController) observe(topics wire.Topics, topic string, payload []byte) {
	tp, err := topics.Parse(topic)
	if err != nil || len(payload) == 0 {
		return
	}
	k := TillKey{tp.Store, tp.Till}
	switch tp.Kind {
	case wire.KindStatus:
		if s, err := wire.DecodeStatus(payload); err == nil && s.State == wire.StateOnline {
			c.mu.Lock()
			c.running[k] = s.Version
			c.mu.Unlock()
		}
	case wire.KindEvent:
		e, err := wire.DecodeEvent(payload)
		if err != nil || e.Kind != wire.EventUpdateProgress {
			return
		}
		r, err := wire.DecodeUpdateReport(e)
		if err != nil {
			return
		}
		c.mu.Lock()
		if len(c.reports[k]) < 1000 {
			c.reports[k] = append(c.reports[k], r)
		}
		c.mu.Unlock()
	}
}

// reconcile brings every rollout that is not finished one step on.
func (c *RolloutController) reconcile(ctx context.Context, cli mqtt.Client) error {
	c.mu.Lock()
	reports, running := c.reports, make(map[TillKey]string, len(c.running))
	for k, v := range c.running {
		running[k] = v
	}
	c.reports = map[TillKey][]wire.UpdateReport{}
	c.mu.Unlock()
	all, err := Rollouts(ctx, c.Docs)
	if err != nil {
		return err
	}
	for _, r := range all {
		if r.State == RolloutComplete || (r.State == RolloutAborted && r.Cleaned) {
			continue
		}
		if _, err := changeRollout(ctx, c.Docs, r.ID, func(r *Rollout) error {
			return c.advance(ctx, cli, r, reports, running)
		}); err != nil {
			return err
		}
	}
	return nil
}

// advance is one step of rollout r, inside its transaction.
func (c *RolloutController) advance(ctx context.Context, cli mqtt.Client, r *Rollout, reports map[TillKey][]wire.UpdateReport, running map[TillKey]string) error {
	now := time.Now().UTC()
	v := r.Release.Version
	for i := range r.Tills {
		t := &r.Tills[i]
		if t.Step == StepPending || t.Step == wire.StepConfirmed || t.Step == wire.StepRolledBack {
			continue // not asked yet, or final
		}
		for _, rep := range reports[t.TillKey] {
			if rep.Version != v || (rep.Rollout != "" && rep.Rollout != r.ID) {
				continue
			}
			c.apply(t, rep.Step, rep.Error, now)
			if rep.Step == wire.StepDownloading || rep.Step == wire.StepVerified {
				t.Bytes, t.Total = rep.Bytes, rep.Total
			}
		}
		if err := c.readJournal(ctx, t, v, now); err != nil {
			return err
		}
	}
	switch r.State {
	case RolloutAborted:
		for i := range r.Tills {
			t := &r.Tills[i]
			if t.Step != StepPending && t.Step != wire.StepConfirmed {
				if err := c.publish(cli, t.TillKey, nil); err != nil {
					return err
				}
			}
		}
		r.Cleaned = true
		return nil
	case RolloutPaused:
		return nil
	}
	if n := r.failures(); r.PauseOnFailures > 0 && n >= r.PauseOnFailures {
		r.State, r.Reason = RolloutPaused, fmt.Sprintf("%d failures reached the threshold of %d", n, r.PauseOnFailures)
		c.Logger.Warn("hq: rollout paused", "rollout", r.ID, "reason", r.Reason)
		return nil
	}
	settled := true
	for _, t := range r.Tills {
		if t.Stage <= r.Stage && !t.Settled() {
			settled = false
		}
	}
	if settled || (r.Soak > 0 && now.Sub(r.StageStarted) >= r.Soak) {
		if r.Stage == len(r.Stages)-1 {
			if settled {
				r.State, r.Reason = RolloutComplete, ""
			}
		} else {
			r.Stage++
			r.StageStarted = now
		}
	}
	for i := range r.Tills {
		t := &r.Tills[i]
		if t.Stage > r.Stage || t.Step != StepPending {
			continue
		}
		if running[t.TillKey] == v {
			// It ran the release before its stage began: nothing to try.
			c.apply(t, wire.StepConfirmed, "already running it", now)
			continue
		}
		d := wire.Desired{Rollout: r.ID, Version: v, URL: r.URL, SHA256: r.Release.SHA256, Size: r.Release.Size, Window: r.Window}
		if err := c.publish(cli, t.TillKey, &d); err != nil {
			return err
		}
		t.Step, t.At = StepAsked, now
	}
	return nil
}

// apply moves t to step. A till's steps only go forwards, except that a new attempt
// (downloading after a failure) starts over; confirmed and rolled back are final.
func (c *RolloutController) apply(t *RolloutTill, step, why string, now time.Time) {
	if t.Step == wire.StepConfirmed || t.Step == wire.StepRolledBack {
		return
	}
	t.Step, t.Error, t.At = step, why, now
}

// readJournal takes the till's update entries stored since the last look.
func (c *RolloutController) readJournal(ctx context.Context, t *RolloutTill, v string, now time.Time) error {
	return c.Store.Entries(ctx, t.TillKey, t.JournalAfter, func(rec Record) error {
		t.JournalAfter = rec.Seq
		tx, err := wire.DecodeTx(wire.Topic{Store: t.Store, Till: t.Till, Kind: wire.KindTx}, rec.Raw)
		if err != nil || tx.Entry.Kind != journal.KindUpdate {
			return nil
		}
		note := tx.Entry.Reason
		switch {
		case note == "update "+v+" confirmed":
			c.apply(t, wire.StepConfirmed, "", now)
		case strings.HasPrefix(note, "update failed: "+v+" rolled back"):
			c.apply(t, wire.StepRolledBack, note, now)
		case strings.HasPrefix(note, "update "+v+" refused: "):
			c.apply(t, wire.StepRefused, strings.TrimPrefix(note, "update "+v+" refused: "), now)
		case strings.HasPrefix(note, "update "+v+" installed into slot"):
			if t.Step != wire.StepTried {
				c.apply(t, wire.StepInstalled, "", now)
			}
		}
		return nil
	})
}

// publish retains d (nil: withdraws the desired firmware) on the till's topic.
func (c *RolloutController) publish(cli mqtt.Client, k TillKey, d *wire.Desired) error {
	topic := wire.Topics{Prefix: c.Options.Prefix}.Desired(k.Store, k.Till)
	var p []byte
	if d != nil {
		if c.Options.SignKey != nil {
			if err := wire.SignDesired(c.Options.SignKey, d, k.Store, k.Till); err != nil {
				return err
			}
		} else {
			d.Store, d.Till, d.Issued = k.Store, k.Till, time.Now().UTC().Truncate(time.Second)
		}
		var err error
		if p, err = wire.EncodeDesired(*d); err != nil {
			return err
		}
	}
	return c.Options.wait(cli.Publish(topic, 1, true, p), "rollout", "publish desired "+k.String())
}
