package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"tillbox/ledger/journal"
	"tillbox/uplink/hq"
)

// events lists the event history HQ keeps: tillhq events [--till S[/T]] [--kind K]
// [--since T] [--until T] [--limit N] [--json].
func events(ctx context.Context, e *env, args []string) error {
	c := e.flags("events")
	till := c.fs.String("till", "", "only this till (STORE/TILL) or store (STORE)")
	kind := c.fs.String("kind", "", "only events of this kind (lost, conflict, paper-out, ...)")
	since := c.fs.String("since", "", "only events at or after this time: RFC 3339, a date (2026-03-01) or an age (2h, 7d)")
	until := c.fs.String("until", "", "only events before this time (same forms)")
	limit := c.fs.Int("limit", 1000, "at most this many, the newest (0: all)")
	asJSON := c.fs.Bool("json", false, "print JSON Lines")
	if err := c.parse(args, 0, 0, "takes no arguments"); err != nil {
		return err
	}
	now := time.Now()
	q := hq.EventQuery{Kind: *kind, Limit: *limit}
	if *till != "" {
		s, t, hasTill := strings.Cut(*till, "/")
		if !journal.ValidID(s) || hasTill && !journal.ValidID(t) {
			return usageError{fmt.Sprintf("events: --till %q: want STORE/TILL or STORE", *till)}
		}
		q.Store, q.Till = s, t
	}
	var err error
	if q.Since, err = parseWhen(*since, now); err != nil {
		return usageError{"events: --since: " + err.Error()}
	}
	if q.Until, err = parseWhen(*until, now); err != nil {
		return usageError{"events: --until: " + err.Error()}
	}
	if *limit < 0 {
		return usageError{"events: --limit must be 0 or more"}
	}
	st, err := hq.Open(ctx, c.store)
	if err != nil {
		return err
	}
	defer st.Close()
	fst, err := hq.OpenFleetStore(ctx, st)
	if err != nil {
		return err
	}
	evs, err := fst.Events(ctx, q)
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(e.stdout)
		for _, ev := range evs {
			if err := enc.Encode(eventJSON(ev)); err != nil {
				return err
			}
		}
		return nil
	}
	w := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "AT\tTILL\tSOURCE\tKIND\tSEVERITY\tDETAIL")
	for _, ev := range evs {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", ev.Event.At.UTC().Format(time.RFC3339), ev.TillKey, ev.Source, ev.Event.Kind,
			dash(ev.Event.Severity), dash(ev.Event.Detail))
	}
	return w.Flush()
}

type eventLine struct {
	At       time.Time `json:"at"`
	Store    string    `json:"store"`
	Till     string    `json:"till"`
	Source   string    `json:"source"`
	Kind     string    `json:"kind"`
	Severity string    `json:"severity,omitempty"`
	Detail   string    `json:"detail,omitempty"`
	Received time.Time `json:"received"`
}

func eventJSON(e hq.FleetEvent) eventLine {
	return eventLine{At: e.Event.At.UTC(), Store: e.Store, Till: e.Till, Source: e.Source, Kind: e.Event.Kind,
		Severity: e.Event.Severity, Detail: e.Event.Detail, Received: e.Received.UTC()}
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// parseWhen reads a time as RFC 3339, a date (midnight UTC) or an age before now (90m,
// 2h, 7d); "" is the zero time.
func parseWhen(v string, now time.Time) (time.Time, error) {
	switch {
	case v == "":
		return time.Time{}, nil
	case strings.HasSuffix(v, "d"):
		var n int
		if _, err := fmt.Sscanf(v, "%dd", &n); err == nil && n >= 0 && fmt.Sprintf("%dd", n) == v {
			return now.Add(-time.Duration(n) * 24 * time.Hour), nil
		}
	}
	if d, err := time.ParseDuration(v); err == nil && d >= 0 {
		return now.Add(-d), nil
	}
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.DateOnly, v); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("%q: want RFC 3339 (2026-03-01T12:00:00Z), a date (2026-03-01) or an age (2h, 7d)", v)
}

// passwd prints a credentials line for the dashboard: tillhq passwd NAME reads the secret
// from the first line of stdin; --generate makes one and prints it on stderr. NAME
// "bearer" makes a bearer token (Prometheus's authorization credentials).
func passwd(_ context.Context, e *env, args []string) error {
	return passwdFrom(os.Stdin, e, args)
}

func passwdFrom(in io.Reader, e *env, args []string) error {
	fs := e.flagSet("passwd")
	gen := fs.Bool("generate", false, "make a random secret and print it on stderr instead of reading stdin")
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := nargs(fs, 1, 1, `give the user's name, or "bearer" for a token`); err != nil {
		return err
	}
	name := fs.Arg(0)
	if strings.ContainsAny(name, ": \t\n") {
		return usageError{fmt.Sprintf("passwd: name %q: no colon or space", name)}
	}
	var secret string
	if *gen {
		b := make([]byte, 24)
		if _, err := rand.Read(b); err != nil {
			return fmt.Errorf("passwd: %w", err)
		}
		secret = base64.RawURLEncoding.EncodeToString(b)
		fmt.Fprintln(e.stderr, secret)
	} else {
		line, err := bufio.NewReader(in).ReadString('\n')
		if err != nil && err != io.EOF {
			return fmt.Errorf("passwd: read stdin: %w", err)
		}
		secret = strings.TrimRight(line, "\r\n")
	}
	if len(secret) < 12 {
		return usageError{"passwd: the secret must have 12 characters or more"}
	}
	h, err := hq.HashSecret(secret)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "%s:%s\n", name, h)
	return nil
}
