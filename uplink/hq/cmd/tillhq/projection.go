package main

import (
	"context"
	"fmt"

	"tillbox/uplink/hq"
)

const projectionUsage = "projection rebuild"

// projection manages the PostgreSQL relational projection: rebuild writes it again from
// the stored entries of every till's verified prefix, in one transaction.
func projection(ctx context.Context, e *env, args []string) error {
	c := e.flags("projection")
	if err := c.parse(args, 1, 1, "usage: tillhq "+projectionUsage); err != nil {
		return err
	}
	if c.fs.Arg(0) != "rebuild" {
		return usageError{"usage: tillhq " + projectionUsage}
	}
	st, err := hq.Open(ctx, c.store)
	if err != nil {
		return err
	}
	defer st.Close()
	n, err := hq.RebuildProjection(ctx, st)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "projection rebuilt: %d documents\n", n)
	return nil
}
