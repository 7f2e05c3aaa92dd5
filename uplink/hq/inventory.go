package hq

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"time"

	"tillbox/uplink/wire"
)

// FleetStore keeps the device inventory and the event history in HQ's store, beside the
// entries: what the fleet view knows survives a restart of tillhq.
type FleetStore interface {
	// Devices returns every till of the inventory, sorted by store and till.
	Devices(ctx context.Context) ([]TillStatus, error)
	// PutDevice replaces a till's inventory record.
	PutDevice(ctx context.Context, ts TillStatus) error
	// AddEvent records an event; recording the same event again (same till, time, kind,
	// severity and detail) changes nothing, so that several HQs may record it.
	AddEvent(ctx context.Context, e FleetEvent) error
	// Events returns the events q selects, oldest first; with q.Limit, the newest q.Limit.
	Events(ctx context.Context, q EventQuery) ([]FleetEvent, error)
	// PruneEvents removes the events from before before and returns how many.
	PruneEvents(ctx context.Context, before time.Time) (int, error)
}

// EventQuery selects events; zero values select everything.
type EventQuery struct {
	Store, Till string    // Till only with Store
	Kind        string    // the event's kind: "lost", "conflict", "paper-out", ...
	Since       time.Time // At >= Since
	Until       time.Time // At < Until
	Limit       int       // the newest Limit; 0 is no limit
}

func (q EventQuery) match(e FleetEvent) bool {
	return (q.Store == "" || e.Store == q.Store) && (q.Till == "" || e.Till == q.Till) &&
		(q.Kind == "" || e.Event.Kind == q.Kind) && (q.Since.IsZero() || !e.Event.At.Before(q.Since)) &&
		(q.Until.IsZero() || e.Event.At.Before(q.Until))
}

// OpenFleetStore returns the inventory and event history of st, a store Open returned.
// For PostgreSQL it creates their tables when missing.
func OpenFleetStore(ctx context.Context, st Store) (FleetStore, error) {
	switch s := st.(type) {
	case *boltStore:
		return openBoltFleet(s)
	case *pgStore:
		return openPgFleet(ctx, s)
	}
	return nil, fmt.Errorf("hq: fleet store: %T keeps no inventory", st)
}

// eventID is an event's key: its time first, so that keys sort by time, then a hash of
// what it says, so that the same event recorded twice has the same key.
func eventID(e FleetEvent) []byte {
	h := sha256.New()
	for _, s := range []string{e.Store, e.Till, e.Event.Kind, e.Event.Severity, e.Event.Detail, e.Source} {
		var n [4]byte
		binary.BigEndian.PutUint32(n[:], uint32(len(s)))
		h.Write(n[:])
		h.Write([]byte(s))
	}
	id := make([]byte, 16)
	binary.BigEndian.PutUint64(id, uint64(e.Event.At.UnixNano()))
	copy(id[8:], h.Sum(nil))
	return id
}

// MergeInventory completes the statuses the broker holds (Fleet's answer) with what the
// inventory knows: a till whose retained status is only its will gets its last full
// status from inv, marked lost, with inv's times. live's order is kept.
func MergeInventory(live, inv []TillStatus) []TillStatus {
	known := map[TillKey]TillStatus{}
	for _, t := range inv {
		known[t.TillKey] = t
	}
	out := make([]TillStatus, len(live))
	for i, t := range live {
		k, ok := known[t.TillKey]
		switch {
		case !ok:
			out[i] = t
		case t.Err == "" && t.Status.State == wire.StateLost && t.Status.At == nil:
			if k.Err != "" {
				k.Status, k.Err = t.Status, ""
			}
			k.Status.State = wire.StateLost
			out[i] = k
		default:
			k.Status, k.Err = t.Status, t.Err
			if t.Status.State != wire.StateLost {
				k.LostSince = nil
			}
			out[i] = k
		}
	}
	return out
}
