package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"tillbox/image/bundle"
	"tillbox/uplink/hq"
)

// releasesDir is the release directory: the flag's, or "releases" beside a file store (in
// the working directory for PostgreSQL).
func releasesDir(flag, store string) string {
	if flag != "" {
		return flag
	}
	if strings.Contains(store, "://") {
		return "releases"
	}
	return filepath.Join(filepath.Dir(strings.TrimPrefix(store, "bolt:")), "releases")
}

// onDocs runs f with the store's fleet-update documents, once check (when not nil) has
// accepted the parsed flags.
func (c *common) onDocs(ctx context.Context, args []string, lo, hi int, want string, check func() error, f func(hq.Store, hq.Docs) error) error {
	if err := c.parse(args, lo, hi, want); err != nil {
		return err
	}
	if check != nil {
		if err := check(); err != nil {
			return err
		}
	}
	st, err := hq.Open(ctx, c.store)
	if err != nil {
		return err
	}
	defer st.Close()
	docs, err := hq.OpenDocs(ctx, st)
	if err != nil {
		return err
	}
	return f(st, docs)
}

func releaseCmd(ctx context.Context, e *env, args []string) error {
	if len(args) == 0 {
		return usageError{"release: add FILE.tbx | list"}
	}
	c := e.flags("release " + args[0])
	dir := c.fs.String("releases", os.Getenv("TILLHQ_RELEASES"), "release directory (default: releases beside a file store)")
	switch args[0] {
	case "add":
		keys := c.fs.String("release-keys", os.Getenv("TILLHQ_RELEASE_KEYS"), "public key file of the keys that sign firmware bundles (required)")
		url := c.fs.String("url", "", "tills fetch the bundle from this http(s) address instead of head office")
		return c.onDocs(ctx, args[1:], 1, 1, "give one bundle file", func() error {
			if *keys == "" {
				return usageError{"release add: --release-keys is required"}
			}
			return nil
		}, func(_ hq.Store, docs hq.Docs) error {
			trusted, err := bundle.ReadPublic(*keys)
			if err != nil {
				return err
			}
			d := releasesDir(*dir, c.store)
			r, err := hq.AddRelease(ctx, docs, d, c.fs.Arg(0), *url, trusted)
			if err != nil {
				return err
			}
			where := "stored in " + d
			if r.URL != "" {
				where = "fetched from " + r.URL
			}
			fmt.Fprintf(e.stdout, "release %s for board %s (key %s): %d bytes, sha256 %s, %s\n", r.Version, r.Board, r.KeyID, r.Size, r.SHA256, where)
			return nil
		})
	case "list":
		asJSON := c.fs.Bool("json", false, "one JSON object per release")
		return c.onDocs(ctx, args[1:], 0, 0, "takes no arguments", nil, func(_ hq.Store, docs hq.Docs) error {
			rs, err := hq.Releases(ctx, docs)
			if err != nil {
				return err
			}
			if *asJSON {
				enc := json.NewEncoder(e.stdout)
				for _, r := range rs {
					enc.Encode(r)
				}
				return nil
			}
			w := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "VERSION\tBOARD\tSIZE\tSHA256\tADDED\tURL")
			for _, r := range rs {
				u := r.URL
				if u == "" {
					u = "(head office)"
				}
				fmt.Fprintf(w, "%s\t%s\t%d\t%s\t%s\t%s\n", r.Version, r.Board, r.Size, r.SHA256[:16], r.Added.Format(time.RFC3339), u)
			}
			return w.Flush()
		})
	}
	return usageError{fmt.Sprintf("release: unknown subcommand %q: add or list", args[0])}
}

func groupCmd(ctx context.Context, e *env, args []string) error {
	if len(args) == 0 {
		return usageError{"group: set STORE/TILL [GROUP] | tag STORE/TILL [TAG...] | list"}
	}
	c := e.flags("group " + args[0])
	switch args[0] {
	case "set":
		return c.onDocs(ctx, args[1:], 1, 2, "give STORE/TILL and a group (none: out of its group)", nil, func(_ hq.Store, docs hq.Docs) error {
			s, t, ok := strings.Cut(c.fs.Arg(0), "/")
			if !ok {
				return usageError{"group set: want STORE/TILL"}
			}
			if err := hq.SetGroup(ctx, docs, hq.TillKey{Store: s, Till: t}, c.fs.Arg(1)); err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "%s/%s: group %q\n", s, t, c.fs.Arg(1))
			return nil
		})
	case "tag":
		return c.onDocs(ctx, args[1:], 1, 1<<10, "give STORE/TILL and its tags (none: no tags)", nil, func(_ hq.Store, docs hq.Docs) error {
			s, t, ok := strings.Cut(c.fs.Arg(0), "/")
			if !ok {
				return usageError{"group tag: want STORE/TILL"}
			}
			if err := hq.SetTags(ctx, docs, hq.TillKey{Store: s, Till: t}, c.fs.Args()[1:]); err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "%s/%s: tags %s\n", s, t, strings.Join(c.fs.Args()[1:], ","))
			return nil
		})
	case "list":
		return c.onDocs(ctx, args[1:], 0, 0, "takes no arguments", nil, func(_ hq.Store, docs hq.Docs) error {
			ms, err := hq.Memberships(ctx, docs)
			if err != nil {
				return err
			}
			var keys []hq.TillKey
			for k := range ms {
				keys = append(keys, k)
			}
			sortKeys(keys)
			w := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "TILL\tGROUP\tTAGS")
			for _, k := range keys {
				g := ms[k].Group
				if g == "" {
					g = "-"
				}
				fmt.Fprintf(w, "%s\t%s\t%s\n", k, g, strings.Join(ms[k].Tags, ","))
			}
			return w.Flush()
		})
	}
	return usageError{fmt.Sprintf("group: unknown subcommand %q: set, tag or list", args[0])}
}

func sortKeys(ks []hq.TillKey) {
	for i := 1; i < len(ks); i++ {
		for j := i; j > 0 && ks[j].String() < ks[j-1].String(); j-- {
			ks[j], ks[j-1] = ks[j-1], ks[j]
		}
	}
}

func rolloutCmd(ctx context.Context, e *env, args []string) error {
	if len(args) == 0 {
		return usageError{"rollout: create | status [ID] | pause ID | resume ID | abort ID"}
	}
	c := e.flags("rollout " + args[0])
	switch args[0] {
	case "create":
		var sp hq.RolloutSpec
		c.fs.StringVar(&sp.ID, "id", "", "the rollout's name (default: RELEASE-TIMESTAMP)")
		c.fs.StringVar(&sp.Release, "release", "", "the release's version (tillhq release add)")
		c.fs.StringVar(&sp.Group, "group", "", "the tills of this group (tillhq group set)")
		c.fs.StringVar(&sp.Tag, "tag", "", "the tills with this tag (tillhq group tag)")
		c.fs.StringVar(&sp.Store, "target-store", "", "every known till of this store")
		stages := c.fs.String("stages", "100%", "cumulative percentages of the tills per stage, e.g. 5%,25%,100%")
		c.fs.IntVar(&sp.PauseOnFailures, "pause-on-failures", 1, "pause once this many tills failed (refused or rolled back) since the last resume; 0 never")
		c.fs.DurationVar(&sp.Soak, "soak", 0, "advance a stage this long after it began even if some of its tills have not settled; 0 waits for all")
		c.fs.StringVar(&sp.Window, "window", "", "install only in this daily window of the till's time, HH:MM-HH:MM")
		c.fs.StringVar(&sp.BaseURL, "release-url", os.Getenv("TILLHQ_RELEASE_URL"), "head office's release server as the tills reach it, e.g. https://hq.example:8443")
		return c.onDocs(ctx, args[1:], 0, 0, "takes no arguments", func() error {
			if sp.Release == "" {
				return usageError{"rollout create: --release is required"}
			}
			var err error
			if sp.Stages, err = hq.ParseStages(*stages); err != nil {
				return usageError{err.Error()}
			}
			return nil
		}, func(st hq.Store, docs hq.Docs) error {
			r, err := hq.CreateRollout(ctx, docs, st, sp)
			if err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "rollout %s: release %s to %d tills of %s in %d stages\n", r.ID, r.Release.Version, len(r.Tills), r.Target, len(r.Stages))
			return nil
		})
	case "status":
		asJSON := c.fs.Bool("json", false, "the rollout (or every rollout) as JSON")
		return c.onDocs(ctx, args[1:], 0, 1, "give at most one rollout id", nil, func(_ hq.Store, docs hq.Docs) error {
			var rs []hq.Rollout
			if id := c.fs.Arg(0); id != "" {
				r, err := hq.GetRollout(ctx, docs, id)
				if err != nil {
					return err
				}
				rs = []hq.Rollout{r}
			} else {
				var err error
				if rs, err = hq.Rollouts(ctx, docs); err != nil {
					return err
				}
			}
			if *asJSON {
				type withSummary struct {
					hq.Rollout
					Summary []hq.StageSummary `json:"summary"`
				}
				enc := json.NewEncoder(e.stdout)
				for _, r := range rs {
					if err := enc.Encode(withSummary{r, r.Summary()}); err != nil {
						return err
					}
				}
				return nil
			}
			for i, r := range rs {
				if i > 0 {
					fmt.Fprintln(e.stdout)
				}
				rolloutTable(e.stdout, r, c.fs.Arg(0) != "")
			}
			return nil
		})
	case "pause", "resume", "abort":
		fn := map[string]func(context.Context, hq.Docs, string) (hq.Rollout, error){
			"pause": hq.PauseRollout, "resume": hq.ResumeRollout, "abort": hq.AbortRollout}[args[0]]
		return c.onDocs(ctx, args[1:], 1, 1, "give the rollout id", nil, func(_ hq.Store, docs hq.Docs) error {
			r, err := fn(ctx, docs, c.fs.Arg(0))
			if err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "rollout %s: %s\n", r.ID, r.State)
			return nil
		})
	}
	return usageError{fmt.Sprintf("rollout: unknown subcommand %q", args[0])}
}

// rolloutTable prints a rollout's stages and, with tills, each till.
func rolloutTable(out io.Writer, r hq.Rollout, tills bool) {
	state := r.State
	if r.Reason != "" {
		state += ": " + r.Reason
	}
	fmt.Fprintf(out, "rollout %s  release %s (%s)  %s  stage %d of %d  %s\n", r.ID, r.Release.Version, r.Release.Board, r.Target, r.Stage+1, len(r.Stages), state)
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "STAGE\tPERCENT\tTILLS\tPENDING\tACTIVE\tCONFIRMED\tFAILED")
	for _, s := range r.Summary() {
		fmt.Fprintf(w, "%d\t%d%%\t%d\t%d\t%d\t%d\t%d\n", s.Stage, s.Percent, s.Tills, s.Pending, s.Active, s.Confirmed, s.Failed)
	}
	w.Flush()
	if !tills {
		return
	}
	fmt.Fprintln(out)
	w = tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "STORE\tTILL\tSTAGE\tSTEP\tPROGRESS\tERROR")
	for _, t := range r.Tills {
		prog := "-"
		if t.Total > 0 {
			prog = fmt.Sprintf("%d%%", t.Bytes*100/t.Total)
		}
		why := t.Error
		if len(why) > 100 {
			why = why[:100] + "…"
		}
		if t.Acked {
			why = "(acknowledged) " + why
		}
		fmt.Fprintf(w, "%s\t%s\t%d\t%s\t%s\t%s\n", t.Store, t.Till, t.Stage+1, t.Step, prog, why)
	}
	w.Flush()
}

// serveReleases are serve's release flags: the release directory it serves and the
// rollouts it runs.
type serveReleases struct {
	dir, listen *string
	c           *common
	docs        atomic.Pointer[hq.Docs] // set by start, which runs after the dashboard started
}

func releaseFlags(c *common) *serveReleases {
	return &serveReleases{c: c,
		dir:    c.fs.String("releases", os.Getenv("TILLHQ_RELEASES"), "release directory (default: releases beside a file store)"),
		listen: c.fs.String("release-listen", "", "serve the releases at /releases/ on this address (they are also on --http)"),
	}
}

// withReleases serves /releases/ from the release directory, the rollouts' page and API,
// and the rest with h.
func (s *serveReleases) withReleases(h http.Handler, protect func(http.Handler) http.Handler) http.Handler {
	// The bundles are signed and named by their SHA-256, and a till cannot sign on to the
	// dashboard: they are served to anyone who can reach the server. The rollouts page and
	// its API are the fleet manager's and go behind the dashboard's authentication.
	rollouts := protect(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if docs := s.docs.Load(); docs != nil {
			hq.RolloutPage{Docs: *docs}.ServeHTTP(w, r)
			return
		}
		http.NotFound(w, r)
	}))
	h = protect(h)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasPrefix(r.URL.Path, "/releases/"):
			hq.ReleaseServer{Dir: releasesDir(*s.dir, s.c.store)}.ServeHTTP(w, r)
		case r.URL.Path == "/rollouts" || r.URL.Path == "/api/rollouts":
			rollouts.ServeHTTP(w, r)
		default:
			h.ServeHTTP(w, r)
		}
	})
}

// rollouts lists the rollouts once start has opened their documents (none before).
func (s *serveReleases) rollouts(ctx context.Context) ([]hq.Rollout, error) {
	if docs := s.docs.Load(); docs != nil {
		return hq.Rollouts(ctx, *docs)
	}
	return nil, nil
}

// start serves the releases on --release-listen and runs the rollout controller until ctx
// is done.
func (s *serveReleases) start(ctx context.Context, e *env, c *common, st hq.Store, o hq.Options) error {
	docs, err := hq.OpenDocs(ctx, st)
	if err != nil {
		return err
	}
	s.docs.Store(&docs)
	if *s.listen != "" {
		ln, err := net.Listen("tcp", *s.listen)
		if err != nil {
			return fmt.Errorf("serve: release server: %w", err)
		}
		srv := &http.Server{Handler: hq.ReleaseServer{Dir: releasesDir(*s.dir, c.store)}, ReadHeaderTimeout: 10 * time.Second}
		go srv.Serve(ln)
		context.AfterFunc(ctx, func() { srv.Close() })
		fmt.Fprintln(e.stderr, "tillhq: releases on http://"+ln.Addr().String()+"/releases/")
	}
	ro := o
	ro.ClientID = ""
	ctl := &hq.RolloutController{Docs: docs, Store: st, Options: ro, Logger: o.Logger}
	go ctl.Run(ctx)
	return nil
}
