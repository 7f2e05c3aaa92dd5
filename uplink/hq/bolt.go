package hq

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"tillbox/ledger/journal"
	"time"

	bolt "go.etcd.io/bbolt"
)

// The bbolt layout: one bucket per till under "tills" (key "store/till") holding the
// entries by seq and a "meta" sub-bucket; indexes by receipt and central number; a
// per-store central counter; the quarantine by id.
var (
	bTills      = []byte("tills")
	bEntries    = []byte("entries")
	bMeta       = []byte("meta")
	bReceipts   = []byte("receipts") // receipt -> "store/till" 0x00 seq(8)
	bCentral    = []byte("central")  // central -> "store/till" 0x00 seq(8)
	bCentralOf  = []byte("central-of")
	bCounters   = []byte("counters") // store -> next central (8)
	bQuarantine = []byte("quarantine")
	kThrough    = []byte("through")
	kHash       = []byte("hash")
)

// boltStore is the embedded store: one process, one file.
type boltStore struct {
	db *bolt.DB
}

// OpenBolt opens (creating when missing) a bbolt store at path. The file is locked: a
// second tillhq on the same file waits a second and fails.
func OpenBolt(path string) (Store, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		return nil, fmt.Errorf("hq: open %s: %w", path, err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bTills, bReceipts, bCentral, bCentralOf, bCounters, bQuarantine} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("hq: open %s: %w", path, err)
	}
	return &boltStore{db: db}, nil
}

func (s *boltStore) Close() error { return s.db.Close() }

func (s *boltStore) run(ctx context.Context, fn func(t txn) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := s.db.Update(func(tx *bolt.Tx) error { return fn(&boltTxn{tx: tx}) }); err != nil {
		return fmt.Errorf("hq: bolt commit: %w", err)
	}
	return nil
}

func tillName(k TillKey) []byte { return []byte(k.Store + "/" + k.Till) }

func u64b(v uint64) []byte {
	b := make([]byte, 8)
	binary.BigEndian.PutUint64(b, v)
	return b
}

func ref(k TillKey, seq uint64) []byte {
	return append(append(tillName(k), 0), u64b(seq)...)
}

func parseRef(v []byte) (TillKey, uint64, bool) {
	i := bytes.IndexByte(v, 0)
	if i < 0 || len(v) != i+9 {
		return TillKey{}, 0, false
	}
	name := string(v[:i])
	j := bytes.IndexByte(v[:i], '/')
	if j < 0 {
		return TillKey{}, 0, false
	}
	return TillKey{name[:j], name[j+1:]}, binary.BigEndian.Uint64(v[i+1:]), true
}

type boltTxn struct{ tx *bolt.Tx }

func (t *boltTxn) till(k TillKey, create bool) (entries, meta *bolt.Bucket, err error) {
	tills := t.tx.Bucket(bTills)
	b := tills.Bucket(tillName(k))
	if b == nil {
		if !create {
			return nil, nil, nil
		}
		if b, err = tills.CreateBucket(tillName(k)); err != nil {
			return nil, nil, err
		}
		if _, err = b.CreateBucket(bEntries); err != nil {
			return nil, nil, err
		}
		m, err := b.CreateBucket(bMeta)
		if err != nil {
			return nil, nil, err
		}
		if err := m.Put(kThrough, u64b(0)); err != nil {
			return nil, nil, err
		}
		if err := m.Put(kHash, []byte(journal.GenesisPrev)); err != nil {
			return nil, nil, err
		}
	}
	return b.Bucket(bEntries), b.Bucket(bMeta), nil
}

func (t *boltTxn) insert(_ context.Context, items []*item) error {
	for _, it := range items {
		e, _, err := t.till(it.key, true)
		if err != nil {
			return err
		}
		k := u64b(it.seq)
		if v := e.Get(k); v != nil {
			var h struct {
				Hash string `json:"hash"`
			}
			_ = json.Unmarshal(v, &h)
			it.existing = h.Hash
			continue
		}
		// The receipt index is written when the entry is verified (assignCentral): an
		// entry above a gap must not take over the number of one already verified.
		if err := e.Put(k, it.raw); err != nil {
			return err
		}
		it.inserted = true
	}
	return nil
}

type storedQ struct {
	At      time.Time `json:"at"`
	Source  string    `json:"source"`
	Topic   string    `json:"topic,omitempty"`
	Store   string    `json:"store,omitempty"`
	Till    string    `json:"till,omitempty"`
	Seq     uint64    `json:"seq,omitempty"`
	Reason  string    `json:"reason"`
	Payload []byte    `json:"payload,omitempty"`
}

func (t *boltTxn) quarantine(_ context.Context, qs []Quarantine) error {
	for _, q := range qs {
		if err := t.quarantineOne(q); err != nil {
			return err
		}
	}
	return nil
}

func (t *boltTxn) quarantineOne(q Quarantine) error {
	b := t.tx.Bucket(bQuarantine)
	id, err := b.NextSequence()
	if err != nil {
		return err
	}
	v, err := json.Marshal(storedQ{At: q.At, Source: q.Source, Topic: q.Topic, Store: q.Store, Till: q.Till, Seq: q.Seq, Reason: q.Reason, Payload: q.Payload})
	if err != nil {
		return err
	}
	return b.Put(u64b(id), v)
}

// lockTills reads the heads; bbolt's one writer at a time is the lock.
func (t *boltTxn) lockTills(_ context.Context, keys []TillKey, ours []span) ([]TillState, map[TillKey][]link, error) {
	out := make([]TillState, 0, len(keys))
	read := map[TillKey][]link{}
	for i, k := range keys {
		_, m, err := t.till(k, true)
		if err != nil {
			return nil, nil, err
		}
		h := TillState{TillKey: k, Through: binary.BigEndian.Uint64(m.Get(kThrough)), Hash: string(m.Get(kHash)), top: noTop}
		if h.lastDoc, err = t.lastDoc(k, h.Through); err != nil {
			return nil, nil, err
		}
		out = append(out, h)
		from, to := h.Through+1, h.Through+scanSpan
		parts := [][2]uint64{{from, to}}
		if skip := ours[i]; skip.from != 0 {
			parts = [][2]uint64{{from, min(to, skip.from-1)}, {max(from, skip.to+1), to}}
		}
		for _, pt := range parts {
			if pt[0] > pt[1] {
				continue
			}
			links, err := t.scanOne(k, pt[0], pt[1])
			if err != nil {
				return nil, nil, err
			}
			read[k] = append(read[k], links...)
		}
	}
	return out, read, nil
}

// lastDoc is the receipt of k's last document at or below seq through ("" for none).
func (t *boltTxn) lastDoc(k TillKey, through uint64) (string, error) {
	e, _, err := t.till(k, false)
	if err != nil || e == nil || through == 0 {
		return "", err
	}
	c := e.Cursor()
	key, v := c.Seek(u64b(through))
	switch {
	case key == nil:
		key, v = c.Last()
	case binary.BigEndian.Uint64(key) > through:
		key, v = c.Prev()
	}
	for ; key != nil; key, v = c.Prev() {
		var l struct {
			Receipt string `json:"receipt"`
		}
		if err := json.Unmarshal(v, &l); err != nil {
			return "", fmt.Errorf("stored %s seq %x does not decode: %w", k, key, err)
		}
		if l.Receipt != "" {
			return l.Receipt, nil
		}
	}
	return "", nil
}

func (t *boltTxn) scan(_ context.Context, spans []span) (map[TillKey][]link, error) {
	out := map[TillKey][]link{}
	for _, s := range spans {
		links, err := t.scanOne(s.key, s.from, s.to)
		if err != nil {
			return nil, err
		}
		out[s.key] = links
	}
	return out, nil
}

func (t *boltTxn) scanOne(k TillKey, from, to uint64) ([]link, error) {
	e, _, err := t.till(k, false)
	if err != nil || e == nil {
		return nil, err
	}
	var out []link
	c := e.Cursor()
	for key, v := c.Seek(u64b(from)); key != nil && binary.BigEndian.Uint64(key) <= to; key, v = c.Next() {
		var l struct {
			Seq     uint64 `json:"seq"`
			Prev    string `json:"prev"`
			Hash    string `json:"hash"`
			Receipt string `json:"receipt"`
		}
		if err := json.Unmarshal(v, &l); err != nil {
			return nil, fmt.Errorf("stored %s seq %x does not decode: %w", k, key, err)
		}
		out = append(out, link{seq: binary.BigEndian.Uint64(key), prev: l.Prev, hash: l.Hash, receipt: l.Receipt})
	}
	return out, nil
}

func (t *boltTxn) evict(_ context.Context, evs []eviction) error {
	for _, ev := range evs {
		if err := t.evictOne(ev.key, ev.seq, ev.reason, ev.drop); err != nil {
			return err
		}
	}
	return nil
}

func (t *boltTxn) evictOne(k TillKey, seq uint64, reason string, drop bool) error {
	e, _, err := t.till(k, false)
	if err != nil || e == nil {
		return err
	}
	raw := bytes.Clone(e.Get(u64b(seq)))
	var r struct {
		Receipt string `json:"receipt"`
	}
	_ = json.Unmarshal(raw, &r)
	if r.Receipt != "" {
		rb := t.tx.Bucket(bReceipts)
		if bytes.Equal(rb.Get([]byte(r.Receipt)), ref(k, seq)) {
			if err := rb.Delete([]byte(r.Receipt)); err != nil {
				return err
			}
		}
	}
	if err := e.Delete(u64b(seq)); err != nil || drop {
		return err
	}
	return t.quarantineOne(Quarantine{At: time.Now().UTC(), Source: "chain", Store: k.Store, Till: k.Till, Seq: seq, Reason: reason, Payload: clipPayload(raw)})
}

func (t *boltTxn) setThrough(_ context.Context, heads []TillState) error {
	for _, h := range heads {
		_, m, err := t.till(h.TillKey, true)
		if err != nil {
			return err
		}
		if err := m.Put(kThrough, u64b(h.Through)); err != nil {
			return err
		}
		if err := m.Put(kHash, []byte(h.Hash)); err != nil {
			return err
		}
	}
	return nil
}

func (t *boltTxn) assignCentral(_ context.Context, stores []string, refs map[string][]centralRef) error {
	for _, s := range stores {
		if err := t.assignCentralOne(s, refs[s]); err != nil {
			return err
		}
	}
	return nil
}

func (t *boltTxn) assignCentralOne(store string, refs []centralRef) error {
	cnt := t.tx.Bucket(bCounters)
	var n uint64
	if v := cnt.Get([]byte(store)); len(v) == 8 {
		n = binary.BigEndian.Uint64(v)
	}
	cb, of := t.tx.Bucket(bCentral), t.tx.Bucket(bCentralOf)
	for _, r := range refs {
		n++
		num := CentralNumber(store, n)
		rv := ref(TillKey{store, r.till}, r.seq)
		if err := cb.Put([]byte(num), rv); err != nil {
			return err
		}
		if err := of.Put(rv, []byte(num)); err != nil {
			return err
		}
		if err := t.indexReceipt(TillKey{store, r.till}, r.seq); err != nil {
			return err
		}
	}
	return cnt.Put([]byte(store), u64b(n))
}

func (s *boltStore) Tills(ctx context.Context) ([]TillState, error) {
	var out []TillState
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bTills).ForEachBucket(func(name []byte) error {
			k, _, ok := parseRef(append(bytes.Clone(name), 0, 0, 0, 0, 0, 0, 0, 0, 0))
			if !ok {
				return nil
			}
			m := tx.Bucket(bTills).Bucket(name).Bucket(bMeta)
			out = append(out, TillState{TillKey: k, Through: binary.BigEndian.Uint64(m.Get(kThrough)), Hash: string(m.Get(kHash))})
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("hq: tills: %w", err)
	}
	return out, nil
}

func (s *boltStore) Through(ctx context.Context, k TillKey) (uint64, error) {
	var n uint64
	err := s.db.View(func(tx *bolt.Tx) error {
		if b := tx.Bucket(bTills).Bucket(tillName(k)); b != nil {
			n = binary.BigEndian.Uint64(b.Bucket(bMeta).Get(kThrough))
		}
		return nil
	})
	return n, err
}

// indexReceipt points the receipt index at the verified entry k/seq.
func (t *boltTxn) indexReceipt(k TillKey, seq uint64) error {
	e, _, err := t.till(k, false)
	if err != nil || e == nil {
		return err
	}
	var r struct {
		Receipt string `json:"receipt"`
	}
	_ = json.Unmarshal(e.Get(u64b(seq)), &r)
	if r.Receipt == "" {
		return nil
	}
	return t.tx.Bucket(bReceipts).Put([]byte(r.Receipt), ref(k, seq))
}

// record reads the stored entry k/seq if it is in the till's verified prefix.
func (s *boltStore) record(tx *bolt.Tx, k TillKey, seq uint64) (Record, bool) {
	b := tx.Bucket(bTills).Bucket(tillName(k))
	if b == nil || seq > binary.BigEndian.Uint64(b.Bucket(bMeta).Get(kThrough)) {
		return Record{}, false
	}
	v := b.Bucket(bEntries).Get(u64b(seq))
	if v == nil {
		return Record{}, false
	}
	r := Record{TillKey: k, Seq: seq, Raw: bytes.Clone(v)}
	var e struct {
		Hash    string `json:"hash"`
		Receipt string `json:"receipt"`
	}
	_ = json.Unmarshal(v, &e)
	r.Hash, r.Receipt = e.Hash, e.Receipt
	r.Central = string(tx.Bucket(bCentralOf).Get(ref(k, seq)))
	return r, true
}

func (s *boltStore) Entries(ctx context.Context, k TillKey, after uint64, fn func(Record) error) error {
	return s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bTills).Bucket(tillName(k))
		if b == nil {
			return nil
		}
		c := b.Bucket(bEntries).Cursor()
		for key, _ := c.Seek(u64b(after + 1)); key != nil; key, _ = c.Next() {
			if err := ctx.Err(); err != nil {
				return err
			}
			r, ok := s.record(tx, k, binary.BigEndian.Uint64(key))
			if !ok {
				return nil // above the watermark
			}
			if err := fn(r); err != nil {
				return err
			}
		}
		return nil
	})
}

func (s *boltStore) Lookup(ctx context.Context, number string) (Record, error) {
	var r Record
	found := false
	err := s.db.View(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bReceipts, bCentral} {
			if v := tx.Bucket(b).Get([]byte(number)); v != nil {
				if k, seq, ok := parseRef(v); ok {
					r, found = s.record(tx, k, seq)
					if found {
						return nil
					}
				}
			}
		}
		return nil
	})
	if err != nil {
		return Record{}, fmt.Errorf("hq: lookup %q: %w", number, err)
	}
	if !found {
		return Record{}, fmt.Errorf("hq: lookup %q: %w", number, ErrNotFound)
	}
	return r, nil
}

func (s *boltStore) Quarantined(ctx context.Context, fn func(Quarantine) error) error {
	return s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bQuarantine).ForEach(func(k, v []byte) error {
			var q storedQ
			if err := json.Unmarshal(v, &q); err != nil {
				return errors.New("hq: quarantine record does not decode")
			}
			return fn(Quarantine{ID: binary.BigEndian.Uint64(k), At: q.At, Source: q.Source, Topic: q.Topic, Store: q.Store,
				Till: q.Till, Seq: q.Seq, Reason: q.Reason, Payload: q.Payload})
		})
	})
}
