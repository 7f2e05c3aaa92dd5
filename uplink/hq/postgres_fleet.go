package hq

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// fleetSchema is the inventory and the event history in PostgreSQL. It is idempotent and
// kept apart from the entries' versioned migrations: OpenFleetStore applies it.
const fleetSchema = `
CREATE TABLE IF NOT EXISTS hq_devices (
	store       text NOT NULL,
	till        text NOT NULL,
	state       text NOT NULL,
	version     text NOT NULL DEFAULT '',
	catalog     numeric(20) NOT NULL DEFAULT 0,
	slot        text NOT NULL DEFAULT '',
	cert_serial text NOT NULL DEFAULT '',
	first_seen  timestamptz,
	last_seen   timestamptz,
	lost_since  timestamptz,
	status      jsonb,          -- the till's last full status as it sent it
	doc         jsonb NOT NULL, -- all HQ knows of it (TillStatus)
	PRIMARY KEY (store, till)
);
CREATE TABLE IF NOT EXISTS hq_events (
	id       bytea PRIMARY KEY,  -- time, then a hash of what it says: the same event once
	store    text NOT NULL,
	till     text NOT NULL,
	at       timestamptz NOT NULL,
	received timestamptz NOT NULL,
	source   text NOT NULL,
	kind     text NOT NULL,
	severity text NOT NULL DEFAULT '',
	detail   text NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS hq_events_at ON hq_events (at);
CREATE INDEX IF NOT EXISTS hq_events_till ON hq_events (store, till, at);
CREATE INDEX IF NOT EXISTS hq_events_kind ON hq_events (kind, at);
`

type pgFleet struct{ s *pgStore }

func openPgFleet(ctx context.Context, s *pgStore) (FleetStore, error) {
	// One creator at a time: CREATE ... IF NOT EXISTS races with itself.
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return nil, fmt.Errorf("hq: fleet store: %w", err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock(7212013)`); err != nil {
		return nil, fmt.Errorf("hq: fleet store: lock: %w", err)
	}
	defer conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock(7212013)`)
	if _, err := conn.Exec(ctx, fleetSchema); err != nil {
		return nil, fmt.Errorf("hq: fleet store: schema: %w", err)
	}
	return &pgFleet{s: s}, nil
}

func (f *pgFleet) Devices(ctx context.Context) ([]TillStatus, error) {
	rows, err := f.s.pool.Query(ctx, `SELECT doc FROM hq_devices ORDER BY store, till`)
	if err != nil {
		return nil, fmt.Errorf("hq: devices: %w", err)
	}
	defer rows.Close()
	var out []TillStatus
	for rows.Next() {
		var b []byte
		if err := rows.Scan(&b); err != nil {
			return nil, fmt.Errorf("hq: devices: %w", err)
		}
		var ts TillStatus
		if err := json.Unmarshal(b, &ts); err != nil {
			return nil, fmt.Errorf("hq: devices: %w", err)
		}
		out = append(out, ts)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("hq: devices: %w", err)
	}
	sortTills(out)
	return out, nil
}

func (f *pgFleet) PutDevice(ctx context.Context, ts TillStatus) error {
	doc, err := json.Marshal(ts)
	if err != nil {
		return fmt.Errorf("hq: put device: %w", err)
	}
	var status []byte
	if ts.Err == "" && ts.Status.State != "" {
		if status, err = json.Marshal(ts.Status); err != nil {
			return fmt.Errorf("hq: put device: %w", err)
		}
	}
	state := ts.Status.State
	if ts.Err != "" {
		state = "bad status"
	}
	_, err = f.s.pool.Exec(ctx, `INSERT INTO hq_devices (store, till, state, version, catalog, slot, cert_serial, first_seen, last_seen, lost_since, status, doc)
VALUES ($1, $2, $3, $4, $5::numeric, $12, $6, $7, $8, $9, $10, $11)
ON CONFLICT (store, till) DO UPDATE SET state = EXCLUDED.state, version = EXCLUDED.version, catalog = EXCLUDED.catalog, slot = EXCLUDED.slot,
	cert_serial = EXCLUDED.cert_serial, first_seen = EXCLUDED.first_seen, last_seen = EXCLUDED.last_seen,
	lost_since = EXCLUDED.lost_since, status = EXCLUDED.status, doc = EXCLUDED.doc`,
		ts.Store, ts.Till, state, ts.Status.Version, strconv.FormatUint(ts.Status.Catalog, 10), ts.CertSerial,
		nullTime(ts.FirstSeen), nullTime(ts.LastSeen), ts.LostSince, status, doc, ts.Status.Slot)
	if err != nil {
		return fmt.Errorf("hq: put device: %w", err)
	}
	return nil
}

func (f *pgFleet) AddEvent(ctx context.Context, e FleetEvent) error {
	_, err := f.s.pool.Exec(ctx, `INSERT INTO hq_events (id, store, till, at, received, source, kind, severity, detail)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (id) DO NOTHING`,
		eventID(e), e.Store, e.Till, e.Event.At, e.Received, e.Source, e.Event.Kind, e.Event.Severity, e.Event.Detail)
	if err != nil {
		return fmt.Errorf("hq: add event: %w", err)
	}
	return nil
}

func (f *pgFleet) Events(ctx context.Context, q EventQuery) ([]FleetEvent, error) {
	var where []string
	var args []any
	arg := func(cond string, v any) {
		args = append(args, v)
		where = append(where, fmt.Sprintf(cond, len(args)))
	}
	if q.Store != "" {
		arg("store = $%d", q.Store)
	}
	if q.Till != "" {
		arg("till = $%d", q.Till)
	}
	if q.Kind != "" {
		arg("kind = $%d", q.Kind)
	}
	if !q.Since.IsZero() {
		arg("at >= $%d", q.Since)
	}
	if !q.Until.IsZero() {
		arg("at < $%d", q.Until)
	}
	sql := `SELECT store, till, at, received, source, kind, severity, detail FROM hq_events`
	if len(where) > 0 {
		sql += " WHERE " + strings.Join(where, " AND ")
	}
	sql += " ORDER BY at DESC, id DESC"
	if q.Limit > 0 {
		sql += " LIMIT " + strconv.Itoa(q.Limit)
	}
	rows, err := f.s.pool.Query(ctx, sql, args...)
	if err != nil {
		return nil, fmt.Errorf("hq: events: %w", err)
	}
	defer rows.Close()
	var out []FleetEvent
	for rows.Next() {
		var e FleetEvent
		if err := rows.Scan(&e.Store, &e.Till, &e.Event.At, &e.Received, &e.Source, &e.Event.Kind, &e.Event.Severity, &e.Event.Detail); err != nil {
			return nil, fmt.Errorf("hq: events: %w", err)
		}
		e.Event.At, e.Received = e.Event.At.UTC(), e.Received.UTC()
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("hq: events: %w", err)
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out, nil
}

func nullTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func (f *pgFleet) PruneEvents(ctx context.Context, before time.Time) (int, error) {
	tag, err := f.s.pool.Exec(ctx, `DELETE FROM hq_events WHERE at < $1`, before)
	if err != nil {
		return 0, fmt.Errorf("hq: prune events: %w", err)
	}
	return int(tag.RowsAffected()), nil
}
