package hq

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// The bbolt layout of the inventory: "fleet-devices" maps "store/till" to the till's
// TillStatus as JSON; "fleet-events" maps eventID (time first) to the FleetEvent as JSON.
var (
	bFleetDevices = []byte("fleet-devices")
	bFleetEvents  = []byte("fleet-events")
)

type boltFleet struct{ db *bolt.DB }

func openBoltFleet(s *boltStore) (FleetStore, error) {
	err := s.db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bFleetDevices, bFleetEvents} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("hq: fleet store: %w", err)
	}
	return &boltFleet{db: s.db}, nil
}

func (f *boltFleet) Devices(ctx context.Context) ([]TillStatus, error) {
	var out []TillStatus
	err := f.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bFleetDevices).ForEach(func(k, v []byte) error {
			var ts TillStatus
			if err := json.Unmarshal(v, &ts); err != nil {
				return fmt.Errorf("%s: %w", k, err)
			}
			out = append(out, ts)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("hq: devices: %w", err)
	}
	sortTills(out)
	return out, nil
}

func (f *boltFleet) PutDevice(ctx context.Context, ts TillStatus) error {
	b, err := json.Marshal(ts)
	if err != nil {
		return fmt.Errorf("hq: put device: %w", err)
	}
	if err := f.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bFleetDevices).Put(tillName(ts.TillKey), b) }); err != nil {
		return fmt.Errorf("hq: put device: %w", err)
	}
	return nil
}

func (f *boltFleet) AddEvent(ctx context.Context, e FleetEvent) error {
	b, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("hq: add event: %w", err)
	}
	if err := f.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bFleetEvents).Put(eventID(e), b) }); err != nil {
		return fmt.Errorf("hq: add event: %w", err)
	}
	return nil
}

// Events walks the events newest first from q.Until down to q.Since.
func (f *boltFleet) Events(ctx context.Context, q EventQuery) ([]FleetEvent, error) {
	var out []FleetEvent
	err := f.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bFleetEvents).Cursor()
		var k, v []byte
		if q.Until.IsZero() {
			k, v = c.Last()
		} else {
			start := make([]byte, 8)
			binary.BigEndian.PutUint64(start, uint64(q.Until.UnixNano()))
			if k, v = c.Seek(start); k == nil {
				k, v = c.Last()
			}
			for k != nil && bytes.Compare(k[:8], start) >= 0 {
				k, v = c.Prev()
			}
		}
		for ; k != nil; k, v = c.Prev() {
			if err := ctx.Err(); err != nil {
				return err
			}
			var e FleetEvent
			if err := json.Unmarshal(v, &e); err != nil {
				return fmt.Errorf("%x: %w", k, err)
			}
			if !q.Since.IsZero() && e.Event.At.Before(q.Since) {
				break
			}
			if q.match(e) {
				out = append(out, e)
				if q.Limit > 0 && len(out) >= q.Limit {
					break
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("hq: events: %w", err)
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out, nil
}

func (f *boltFleet) PruneEvents(ctx context.Context, before time.Time) (int, error) {
	end := make([]byte, 8)
	binary.BigEndian.PutUint64(end, uint64(before.UnixNano()))
	n := 0
	// In slices of a few thousand keys: one huge transaction would hold the writer long.
	for {
		if err := ctx.Err(); err != nil {
			return n, err
		}
		done := true
		err := f.db.Update(func(tx *bolt.Tx) error {
			b := tx.Bucket(bFleetEvents)
			var keys [][]byte
			c := b.Cursor()
			for k, _ := c.First(); k != nil && bytes.Compare(k[:8], end) < 0; k, _ = c.Next() {
				if len(keys) == 5000 {
					done = false
					break
				}
				keys = append(keys, bytes.Clone(k))
			}
			for _, k := range keys {
				if err := b.Delete(k); err != nil {
					return err
				}
			}
			n += len(keys)
			return nil
		})
		if err != nil {
			return n, fmt.Errorf("hq: prune events: %w", err)
		}
		if done {
			return n, nil
		}
	}
}
