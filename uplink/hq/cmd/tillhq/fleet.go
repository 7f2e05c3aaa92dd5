package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"tillbox/uplink/hq"
)

func fleet(ctx context.Context, e *env, args []string) error {
	c := e.flags("fleet")
	wait := c.fs.Duration("wait", 5*time.Second, "longest time to collect statuses")
	state := c.fs.String("state", "", "only tills in this state: online, lost, stopped")
	attention := c.fs.Bool("attention", false, "only tills that need someone")
	watch := c.fs.Bool("watch", false, "keep the table on screen, redrawn as statuses arrive")
	every := c.fs.Duration("every", 2*time.Second, "with --watch: how often the table is redrawn")
	hqURL := c.fs.String("hq", "", "ask a running tillhq serve (its --http address, e.g. http://127.0.0.1:8080) instead of the broker: all it knows of each till")
	hqToken := c.fs.String("hq-token", os.Getenv("TILLHQ_HQ_TOKEN_FILE"), "with --hq: a file holding a bearer token of its --dashboard-auth")
	invLoc := c.fs.String("inventory", "", "HQ's store (postgres:// URL or bbolt file): complete lost tills with what HQ knew of them; without --broker, list the inventory alone")
	th := alertFlags(c.fs)
	if err := c.parse(args, 0, 0, "takes no arguments"); err != nil {
		return err
	}
	if *hqURL != "" {
		if *watch || *invLoc != "" || c.broker != "" {
			return usageError{"fleet: --hq goes without --watch, --inventory and --broker"}
		}
		var ts []hq.TillStatus
		if err := getFromHQ(ctx, *hqURL, "/api/tills", *hqToken, &ts); err != nil {
			return err
		}
		// A tillhq without its rollouts' documents yet answers 404: no rollouts.
		var rs []hq.Rollout
		if err := getFromHQ(ctx, *hqURL, "/api/rollouts", *hqToken, &rs); err != nil && !errors.Is(err, errNotServed) {
			return err
		}
		f := hq.FleetFilter{State: *state, Attention: *attention, Thresholds: th}
		c.fs.Visit(func(fl *flag.Flag) {
			if fl.Name == "store" {
				f.Store = c.store
			}
		})
		return fleetTable(e.stdout, f.Filter(ts, time.Now()), time.Now(), th, rs)
	}
	o, err := c.options(*invLoc == "" || *watch)
	if err != nil {
		return err
	}
	// --store is the common flag (HQ's store location elsewhere); here it names a shop.
	f := hq.FleetFilter{State: *state, Attention: *attention, Thresholds: th}
	c.fs.Visit(func(fl *flag.Flag) {
		if fl.Name == "store" {
			f.Store = c.store
		}
	})
	var inv []hq.TillStatus
	// rollouts reads the rollouts from HQ's store, when there is one (--inventory).
	rollouts := func() ([]hq.Rollout, error) { return nil, nil }
	if *invLoc != "" {
		st, err := hq.Open(ctx, *invLoc)
		if err != nil {
			return err
		}
		fst, err := hq.OpenFleetStore(ctx, st)
		if err == nil {
			inv, err = fst.Devices(ctx)
		}
		var docs hq.Docs
		if err == nil {
			docs, err = hq.OpenDocs(ctx, st)
		}
		if err != nil {
			st.Close()
			return err
		}
		if strings.Contains(*invLoc, "://") {
			// PostgreSQL: --watch reads the rollouts again on every redraw.
			defer st.Close()
			rollouts = func() ([]hq.Rollout, error) { return hq.Rollouts(ctx, docs) }
		} else {
			// A bbolt file is locked while open: read once, and let tillhq serve have it.
			rs, err := hq.Rollouts(ctx, docs)
			st.Close()
			if err != nil {
				return err
			}
			rollouts = func() ([]hq.Rollout, error) { return rs, nil }
		}
	}
	if !*watch {
		ts := inv
		if c.broker != "" {
			live, err := hq.Fleet(ctx, o, 500*time.Millisecond, *wait)
			if err != nil {
				return err
			}
			ts = hq.MergeInventory(live, inv)
		}
		rs, err := rollouts()
		if err != nil {
			return err
		}
		return fleetTable(e.stdout, f.Filter(ts, time.Now()), time.Now(), th, rs)
	}
	view := hq.NewFleetView(c.prefix)
	view.Seed(inv)
	go hq.WatchFleet(ctx, o, view, nil)
	tick := time.NewTicker(*every)
	defer tick.Stop()
	for {
		var b strings.Builder
		b.WriteString("\x1b[H\x1b[2J") // home and clear: a live view on a terminal
		now := time.Now()
		fmt.Fprintf(&b, "tillbox fleet  %s  (Ctrl-C to stop)\n\n", now.Format("15:04:05"))
		rs, err := rollouts()
		if err != nil {
			fmt.Fprintf(&b, "(rollouts: %v)\n", err)
		}
		fleetTable(&b, f.Filter(view.Tills(), now), now, th, rs)
		io.WriteString(e.stdout, b.String())
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

// errNotServed: the running tillhq does not serve that path (yet).
var errNotServed = errors.New("not served")

// getFromHQ reads path of a running tillhq serve's dashboard as JSON into v.
func getFromHQ(ctx context.Context, base, path, tokenFile string, v any) error {
	req, err := http.NewRequestWithContext(ctx, "GET", strings.TrimSuffix(base, "/")+path, nil)
	if err != nil {
		return usageError{"fleet: --hq: " + err.Error()}
	}
	if tokenFile != "" {
		b, err := os.ReadFile(tokenFile)
		if err != nil {
			return fmt.Errorf("fleet: --hq-token: %w", err)
		}
		req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(b)))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("fleet: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNotFound {
		return fmt.Errorf("fleet: %s: %w", req.URL.Redacted(), errNotServed)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("fleet: %s: %s", req.URL.Redacted(), resp.Status)
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 64<<20)).Decode(v); err != nil {
		return fmt.Errorf("fleet: %s: %w", req.URL.Redacted(), err)
	}
	return nil
}

// fleetTable prints tills as the fleet manager reads them: each till with its step in
// the newest rollout of rs that includes it (UPDATE), then the current rollouts' stages.
func fleetTable(out io.Writer, ts []hq.TillStatus, now time.Time, th *hq.Thresholds, rs []hq.Rollout) error {
	steps := hq.RolloutSteps(rs)
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "STORE\tTILL\tSTATE\tBACKLOG\tOLDEST UNSYNCED\tLAST SALE\tLOST SINCE\tVERSION\tSLOT\tCATALOG\tUPDATE\tDEVICES\tATTENTION")
	age := func(t *time.Time) string {
		if t == nil {
			return "-"
		}
		return now.Sub(*t).Round(time.Second).String() + " ago"
	}
	for _, t := range ts {
		s := t.Status
		if t.Err != "" {
			fmt.Fprintf(w, "%s\t%s\t(bad status: %s)\n", t.Store, t.Till, t.Err)
			continue
		}
		oldest := "-"
		if s.Backlog > 0 {
			oldest = age(s.OldestUnsynced)
		}
		why := strings.Join(th.Attention(t, now), ", ")
		if why == "" {
			why = "-"
		}
		lost := "-"
		if t.LostSince != nil {
			lost = t.LostSince.UTC().Format(time.RFC3339)
		}
		slot := s.Slot
		if slot == "" {
			slot = "-"
		}
		update := "-"
		if tr, ok := steps[t.TillKey]; ok {
			update = tr.String()
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%d\t%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\t%s\n", t.Store, t.Till, s.State, s.Backlog, oldest, age(s.LastSale),
			lost, s.Version, slot, s.Catalog, update, hq.DevicesText(s.Devices), why)
	}
	if err := w.Flush(); err != nil {
		return err
	}
	for _, r := range hq.CurrentRollouts(rs, now) {
		fmt.Fprintln(out)
		rolloutTable(out, r, false)
	}
	return nil
}

// cmdCmd sends one command to a till and prints its result:
// tillhq cmd --broker URL --sign-key hq-sign.key STORE TILL NAME [ARGS-JSON].
func cmdCmd(ctx context.Context, e *env, args []string) error {
	c := e.flags("cmd")
	id := c.fs.String("id", "", "command id (default random); the same id is answered, not run again")
	wait := c.fs.Duration("wait", 30*time.Second, "how long to wait for the result")
	ttl := c.fs.Duration("expires", hq.DefaultCommandTTL, "how long the command stays valid")
	if err := c.parse(args, 3, 4, "give STORE TILL NAME [ARGS-JSON]"); err != nil {
		return err
	}
	o, err := c.options(true)
	if err != nil {
		return err
	}
	cmd := hq.Command{Store: c.fs.Arg(0), Till: c.fs.Arg(1), Name: c.fs.Arg(2), ID: *id, Expires: time.Now().Add(*ttl)}
	if c.fs.NArg() == 4 {
		cmd.Args = json.RawMessage(c.fs.Arg(3))
	}
	ctx, cancel := context.WithTimeout(ctx, *wait)
	defer cancel()
	r, err := hq.SendCommand(ctx, o, cmd)
	if r.ID != "" {
		b, _ := json.Marshal(r)
		fmt.Fprintln(e.stdout, string(b))
	}
	return err
}

// catalogCmd publishes a store's catalog, signed, retained:
// tillhq catalog --broker URL --sign-key hq-sign.key FILE.json.
func catalogCmd(ctx context.Context, e *env, args []string) error {
	c := e.flags("catalog")
	if err := c.parse(args, 1, 1, "give the catalog file"); err != nil {
		return err
	}
	o, err := c.options(true)
	if err != nil {
		return err
	}
	cat, err := hq.ReadCatalog(c.fs.Arg(0))
	if err != nil {
		return err
	}
	if err := hq.PublishCatalog(ctx, o, cat); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "catalog %s version %d published (%d items, %d cashiers)\n", cat.Store, cat.Version, len(cat.Items), len(cat.Cashiers))
	return nil
}
