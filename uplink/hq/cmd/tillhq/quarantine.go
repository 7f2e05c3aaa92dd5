package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/user"
	"strconv"
	"strings"
	"time"

	"tillbox/uplink/hq"
)

const quarantineUsage = "quarantine [list [STORE/TILL]] | show ID | accept ID | evict STORE/TILL SEQ | replay ID|STORE/TILL"

// quarantine lists the quarantine and resolves it: accept (the till's own signature proves
// the entry), evict (what HQ holds of a till from a seq on), replay (ingest again). Each
// action is recorded in the event history with who did it.
func quarantine(ctx context.Context, e *env, args []string) error {
	c := e.flags("quarantine")
	asJSON := c.fs.Bool("json", false, "list and show: one JSON object per line")
	by := c.fs.String("by", operator(), "who acts, as the event history records it")
	rest, err := parseAnywhere(c.fs, args)
	if err != nil {
		return err
	}
	op := "list"
	if len(rest) > 0 {
		op, rest = rest[0], rest[1:]
	}
	want := map[string][2]int{"list": {0, 1}, "show": {1, 1}, "accept": {1, 1}, "evict": {2, 2}, "replay": {1, 1}}
	n, ok := want[op]
	if !ok || len(rest) < n[0] || len(rest) > n[1] {
		return usageError{"usage: tillhq " + quarantineUsage}
	}
	st, err := hq.Open(ctx, c.store)
	if err != nil {
		return err
	}
	defer st.Close()
	enc := json.NewEncoder(e.stdout)
	switch op {
	case "list":
		var k hq.TillKey
		if len(rest) == 1 {
			if k, err = parseTill(rest[0]); err != nil {
				return err
			}
		}
		err := st.Quarantined(ctx, func(q hq.Quarantine) error {
			if k.Store != "" && (q.Store != k.Store || q.Till != k.Till) {
				return nil
			}
			if *asJSON {
				return enc.Encode(q)
			}
			fmt.Fprintf(e.stdout, "%d %s %s %s/%s seq %d: %s\n", q.ID, q.At.Format(time.RFC3339), q.Source, q.Store, q.Till, q.Seq, q.Reason)
			return nil
		})
		if err != nil {
			return err
		}
		return listDropped(ctx, e, st, k, *asJSON)
	case "show":
		id, err := parseID(rest[0])
		if err != nil {
			return err
		}
		q, err := hq.QuarantineItem(ctx, st, id)
		if err != nil {
			return err
		}
		if *asJSON {
			return enc.Encode(q)
		}
		fmt.Fprintf(e.stdout, "id %d\nat %s\nsource %s\ntopic %s\ntill %s/%s\nseq %d\nreason %s\n%s\n", q.ID, q.At.Format(time.RFC3339),
			q.Source, q.Topic, q.Store, q.Till, q.Seq, q.Reason, q.Payload)
		return nil
	}
	var res []hq.Resolution
	switch op {
	case "accept":
		id, err := parseID(rest[0])
		if err != nil {
			return err
		}
		q, err := hq.QuarantineItem(ctx, st, id)
		if err != nil {
			return err
		}
		keys := c.keyRing()
		if keys == nil {
			return usageError{"quarantine accept: give --keys, the device key registry: only the till's signature proves an entry"}
		}
		key, err := keys.DeviceKey(q.Store, q.Till)
		if err != nil {
			return err
		}
		r, err := hq.Accept(ctx, st, id, key)
		if err != nil {
			return err
		}
		res = append(res, r)
	case "evict":
		k, err := parseTill(rest[0])
		if err != nil {
			return err
		}
		seq, err := strconv.ParseUint(rest[1], 10, 63)
		if err != nil || seq == 0 {
			return usageError{fmt.Sprintf("quarantine evict: seq %q: want a number from 1", rest[1])}
		}
		r, err := hq.Evict(ctx, st, k, seq)
		if err != nil {
			return err
		}
		res = append(res, r)
	case "replay":
		ids, err := replayIDs(ctx, st, rest[0])
		if err != nil {
			return err
		}
		for _, id := range ids {
			r, err := hq.Replay(ctx, st, id)
			if err != nil {
				fmt.Fprintf(e.stdout, "%d: %v\n", id, err)
				continue
			}
			res = append(res, r)
		}
		if len(ids) > 1 && len(res) == 0 {
			return fmt.Errorf("quarantine replay: none of %d resolved", len(ids))
		}
	}
	fs, err := hq.OpenFleetStore(ctx, st)
	if err != nil {
		return err
	}
	for _, r := range res {
		fmt.Fprintf(e.stdout, "%s %s: %s\n", r.Action, r.Till, r.Detail)
		if err := hq.RecordResolution(ctx, fs, r, *by, time.Now().UTC()); err != nil {
			return err
		}
	}
	return nil
}

// listDropped prints, after the quarantine, what HQ dropped over its bound per till and
// kind (of till k, or every till): a line "dropped STORE/TILL KIND: N over the bound, last
// AT", or with asJSON the hq.QuarantineBound (its Dropped field tells it from a
// quarantined message).
func listDropped(ctx context.Context, e *env, st hq.Store, k hq.TillKey, asJSON bool) error {
	bounds, err := hq.QuarantineBounds(ctx, st)
	if err != nil {
		return err
	}
	enc := json.NewEncoder(e.stdout)
	for _, b := range bounds {
		if b.Dropped == 0 || k.Store != "" && (b.Store != k.Store || b.Till != k.Till) {
			continue
		}
		if asJSON {
			if err := enc.Encode(b); err != nil {
				return err
			}
			continue
		}
		fmt.Fprintf(e.stdout, "dropped %s/%s %s: %d over the bound, last %s\n", b.Store, b.Till, b.Kind, b.Dropped, b.LastDropped.Format(time.RFC3339))
	}
	return nil
}

// parseAnywhere parses flags before, between and after the arguments, which it returns.
func parseAnywhere(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := parse(fs, args); err != nil {
			return nil, err
		}
		if args = fs.Args(); len(args) == 0 {
			return pos, nil
		}
		pos, args = append(pos, args[0]), args[1:]
	}
}

// replayIDs is the quarantined entry arg names, or all of a till's, oldest first, except
// those an operator moved there (an evicted forgery is replayed only by its id).
func replayIDs(ctx context.Context, st hq.Store, arg string) ([]uint64, error) {
	if !strings.Contains(arg, "/") {
		id, err := parseID(arg)
		return []uint64{id}, err
	}
	k, err := parseTill(arg)
	if err != nil {
		return nil, err
	}
	var ids []uint64
	err = st.Quarantined(ctx, func(q hq.Quarantine) error {
		if q.Store == k.Store && q.Till == k.Till && q.Seq > 0 && q.Source != "operator" {
			ids = append(ids, q.ID)
		}
		return nil
	})
	return ids, err
}

func parseID(s string) (uint64, error) {
	id, err := strconv.ParseUint(s, 10, 63)
	if err != nil || id == 0 {
		return 0, usageError{fmt.Sprintf("quarantine: id %q: want a number from tillhq quarantine list", s)}
	}
	return id, nil
}

func parseTill(s string) (hq.TillKey, error) {
	st, tl, ok := strings.Cut(s, "/")
	if !ok || st == "" || tl == "" {
		return hq.TillKey{}, usageError{fmt.Sprintf("quarantine: till %q: want STORE/TILL", s)}
	}
	return hq.TillKey{Store: st, Till: tl}, nil
}

// operator names who runs the command: $TILLHQ_OPERATOR, else the login name.
func operator() string {
	if v := os.Getenv("TILLHQ_OPERATOR"); v != "" {
		return v
	}
	if u, err := user.Current(); err == nil {
		return u.Username
	}
	return "unknown"
}
