package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"text/tabwriter"

	"tillbox/uplink/hq"
)

func migrate(ctx context.Context, e *env, args []string) error {
	c := e.flags("migrate")
	if err := c.parse(args, 0, 0, "takes no arguments"); err != nil {
		return err
	}
	if err := hq.Migrate(ctx, c.store); err != nil {
		return err
	}
	// The inventory's and the events' tables too, so that serve needs no DDL of its own.
	st, err := hq.Open(ctx, c.store)
	if err != nil {
		return err
	}
	defer st.Close()
	if _, err := hq.OpenFleetStore(ctx, st); err != nil {
		return err
	}
	fmt.Fprintln(e.stdout, "schema up to date")
	return nil
}

func importFiles(ctx context.Context, e *env, args []string) error {
	c := e.flags("import")
	return c.onStore(ctx, args, 1, 1<<30, "give the exported files", func(st hq.Store) error {
		return importInto(ctx, e, c, st)
	})
}

// importInto imports the files c names into st and, with --broker, publishes the acks.
func importInto(ctx context.Context, e *env, c *common, st hq.Store) error {
	through := map[hq.TillKey]uint64{}
	for _, name := range c.fs.Args() {
		f, err := os.Open(name)
		if err != nil {
			return fmt.Errorf("import: %w", err)
		}
		r, err := hq.ImportVerified(ctx, st, f, 1000, c.keyRing())
		f.Close()
		fmt.Fprintf(e.stdout, "%s: %d lines, %d stored, %d already held, %d quarantined\n", name, r.Lines, r.Stored, r.Duplicates, r.Quarantined)
		if err != nil {
			return err
		}
		for k, v := range r.Through {
			through[k] = v
		}
	}
	for k, v := range through {
		fmt.Fprintf(e.stdout, "%s acknowledged through %d\n", k, v)
	}
	if c.broker == "" {
		return nil
	}
	// Tell the tills now rather than when they next resend.
	o, err := c.options(true)
	if err == nil {
		err = hq.PublishAcks(ctx, o, through)
	}
	if err != nil {
		return fmt.Errorf("import: acks not published: %w", err)
	}
	return nil
}

func receipt(ctx context.Context, e *env, args []string) error {
	c := e.flags("receipt")
	return c.onStore(ctx, args, 1, 1, "give one receipt or central number", func(st hq.Store) error {
		r, err := st.Lookup(ctx, c.fs.Arg(0))
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "store %s till %s seq %d\nreceipt %s\ncentral %s\n%s\n", r.Store, r.Till, r.Seq, r.Receipt, r.Central, r.Raw)
		return nil
	})
}

// onStore parses args, which must leave between lo and hi arguments, and runs f on the
// store --store names.
func (c *common) onStore(ctx context.Context, args []string, lo, hi int, want string, f func(hq.Store) error) error {
	if err := c.parse(args, lo, hi, want); err != nil {
		return err
	}
	st, err := hq.Open(ctx, c.store)
	if err != nil {
		return err
	}
	defer st.Close()
	return f(st)
}

// tillJSON is one line of tills --json.
type tillJSON struct {
	Store   string `json:"store"`
	Till    string `json:"till"`
	Through uint64 `json:"through"`
	Hash    string `json:"hash,omitempty"` // of the entry at through
}

func tills(ctx context.Context, e *env, args []string) error {
	c := e.flags("tills")
	asJSON := c.fs.Bool("json", false, "one JSON object per till and line: store, till, through, hash")
	return c.onStore(ctx, args, 0, 0, "takes no arguments", func(st hq.Store) error {
		ts, err := st.Tills(ctx)
		if err != nil {
			return err
		}
		if *asJSON {
			enc := json.NewEncoder(e.stdout)
			for _, t := range ts {
				if err := enc.Encode(tillJSON{Store: t.Store, Till: t.Till, Through: t.Through, Hash: t.Hash}); err != nil {
					return err
				}
			}
			return nil
		}
		w := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(w, "STORE\tTILL\tTHROUGH")
		for _, t := range ts {
			fmt.Fprintf(w, "%s\t%s\t%d\n", t.Store, t.Till, t.Through)
		}
		return w.Flush()
	})
}

func check(ctx context.Context, e *env, args []string) error {
	c := e.flags("check")
	asJSON := c.fs.Bool("json", false, "one JSON object per till and line: store, till, through, entries, error")
	return c.onStore(ctx, args, 0, 0, "takes no arguments", func(st hq.Store) error {
		checks, err := hq.CheckAll(ctx, st)
		if err != nil {
			return err
		}
		enc := json.NewEncoder(e.stdout)
		bad := 0
		for _, r := range checks {
			k := hq.TillKey{Store: r.Store, Till: r.Till}
			if r.Error != "" {
				bad++
			}
			switch {
			case *asJSON:
				if err := enc.Encode(r); err != nil {
					return err
				}
			case r.Error != "":
				fmt.Fprintf(e.stdout, "%s: %s\n", k, r.Error)
			default:
				fmt.Fprintf(e.stdout, "%s: %d entries, chain verified through %d\n", k, r.Entries, r.Through)
			}
		}
		if bad > 0 {
			return fmt.Errorf("check: %d tills failed", bad)
		}
		return nil
	})
}
