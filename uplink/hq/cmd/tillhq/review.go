package main

import (
	"context"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"tillbox/uplink/hq"
)

// review lists the stock documents to verify, or resolves one:
// tillhq review [list] | tillhq review resolve [--note TEXT] RECEIPT.
func review(ctx context.Context, e *env, args []string) error {
	sub := "list"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		sub, args = args[0], args[1:]
	}
	c := e.flags("review " + sub)
	note := c.fs.String("note", "", "with resolve: who verified it and what was found")
	switch sub {
	case "list":
		if err := c.parse(args, 0, 0, "list takes no arguments"); err != nil {
			return err
		}
	case "resolve":
		if err := c.parse(args, 1, 1, "resolve takes the document's receipt number"); err != nil {
			return err
		}
	default:
		return usageError{fmt.Sprintf("review: %q: want list or resolve", sub)}
	}
	st, err := hq.Open(ctx, c.store)
	if err != nil {
		return err
	}
	defer st.Close()
	fs, err := hq.OpenFleetStore(ctx, st)
	if err != nil {
		return err
	}
	rs, err := hq.ToVerify(ctx, st, fs)
	if err != nil {
		return err
	}
	if sub == "resolve" {
		id := c.fs.Arg(0)
		for _, r := range rs {
			if r.Receipt == id || (r.Central != "" && r.Central == id) {
				if err := hq.ResolveReview(ctx, fs, r, *note, time.Now().UTC()); err != nil {
					return err
				}
				fmt.Fprintf(e.stdout, "%s (%s) resolved\n", r.Receipt, r.TillKey)
				return nil
			}
		}
		return fmt.Errorf("review: %s is no document to verify (resolved already, or never flagged)", id)
	}
	w := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "RECEIPT\tTILL\tKIND\tAT\tORDER\tBEYOND THE ORDER")
	for _, r := range rs {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", r.Receipt, r.TillKey, r.Kind, r.At.UTC().Format(time.RFC3339), dash(r.Order), dash(strings.Join(r.Over, ", ")))
	}
	return w.Flush()
}
