package displaytest

import (
	"context"
	"fmt"
	"slices"
)

// waitScreen returns nil once the screen read returns is want, or ctx's error with the
// screen it last saw. read returns the screen and a channel closed at its next change.
func waitScreen(ctx context.Context, read func() ([]string, <-chan struct{}), want []string) error {
	for {
		got, changed := read()
		if slices.Equal(got, want) {
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return fmt.Errorf("displaytest: screen %q, want %q: %w", got, want, ctx.Err())
		}
	}
}
