package hq

import (
	"context"
	"fmt"
)

// Docs is where HQ keeps the fleet-update records (releases, rollouts, groups): JSON
// documents under a kind and a key, beside the entries in the same store.
type Docs interface {
	// Get returns the document kind/key; ErrNotFound when there is none.
	Get(ctx context.Context, kind, key string) ([]byte, error)
	// Put replaces (or creates) the document kind/key.
	Put(ctx context.Context, kind, key string, doc []byte) error
	// Update calls fn with the document kind/key (nil when there is none) and stores
	// what it returns, in one transaction: an update of the same document by another
	// process waits. fn returning nil, nil leaves the document as it is.
	Update(ctx context.Context, kind, key string, fn func(doc []byte) ([]byte, error)) error
	// List calls fn with every document of kind, in key order.
	List(ctx context.Context, kind string, fn func(key string, doc []byte) error) error
	// Delete removes the document kind/key, if any.
	Delete(ctx context.Context, kind, key string) error
}

// Document kinds.
const (
	DocRelease = "release" // key: version
	DocRollout = "rollout" // key: rollout id
	DocGroup   = "group"   // key: "store/till", document: {"group": NAME}
)

// OpenDocs returns the document store inside st, creating its table or buckets when they
// are missing.
func OpenDocs(ctx context.Context, st Store) (Docs, error) {
	switch s := st.(type) {
	case *pgStore:
		return openPgDocs(ctx, s)
	case *boltStore:
		return openBoltDocs(s)
	}
	return nil, fmt.Errorf("hq: documents: %w: %T", ErrStoreURL, st)
}
