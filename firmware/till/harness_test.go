package till

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"tillbox/ledger/journal"
	"tillbox/uplink/wire"
)

var (
	pinAnna = mustHashPIN("1234", "salt-anna")
	pinBoss = mustHashPIN("9999", "salt-boss")
)

func mustHashPIN(pin, salt string) string {
	h, err := wire.HashPIN(pin, []byte(salt), wire.MinPINIterations)
	if err != nil {
		panic(err)
	}
	return h
}

func testCatalog() *Catalog {
	return &Catalog{
		Version: 7,
		Items: map[string]Item{
			"1":     {Code: "1", Name: "Chleb żytni", Price: 450, Tax: "B"},
			"2":     {Code: "2", Name: "Woda 0,5l", Price: 250, Tax: "A"},
			"3":     {Code: "3", Name: "Jabłka", Price: 599, Tax: "B", Weighed: true},
			"4":     {Code: "4", Name: "Sernik", Tax: "B"}, // price missing
			"5":     {Code: "5", Name: "Kawa", Price: 1999, Tax: "X"},
			"12345": {Code: "12345", Name: "Ser na wagę", Price: 3990, Tax: "B", Weighed: true},
		},
		Barcodes: map[string]string{"5901234123457": "1", "4006381333931": "2", "12345": "12345"},
		Taxes:    map[string]Tax{"A": {Code: "A", Rate: 2300}, "B": {Code: "B", Rate: 500}},
		Cashiers: map[string]Cashier{
			"1": {ID: "1", Name: "Anna", Role: RoleCashier, PINHash: pinAnna},
			"9": {ID: "9", Name: "Boss", Role: RoleSupervisor, PINHash: pinBoss},
		},
		Orders: map[string]Order{"77": {Number: "77", To: "w2", Lines: map[string]int64{"1": 5000, "2": 2000}}},
	}
}

// memJournal is the ledger as the engine sees it, kept in memory by the harness.
type memJournal struct {
	entries   []journal.Entry
	records   map[string]map[string][]byte
	stock     map[string]int64
	failNext  error
	watermark uint64
	lastDoc   uint64
}

func (j *memJournal) ByReceipt(r string) (journal.Entry, error) {
	for _, e := range j.entries {
		if e.Receipt == r {
			return e, nil
		}
	}
	return journal.Entry{}, errors.New("not found")
}

func (j *memJournal) Refunded(r string) (map[string]int64, error) {
	m := map[string]int64{}
	if v := j.records[BucketRefunded][r]; v != nil {
		if err := json.Unmarshal(v, &m); err != nil {
			return nil, err
		}
	}
	return m, nil
}

func (j *memJournal) Documents(n int) ([]journal.Entry, error) {
	var out []journal.Entry
	for i := len(j.entries) - 1; i >= 0 && len(out) < n; i-- {
		if j.entries[i].Receipt != "" {
			out = append(out, j.entries[i])
		}
	}
	return out, nil
}

func (j *memJournal) Copies(r string) (int, error) {
	v := j.records[BucketCopies][r]
	if v == nil {
		return 0, nil
	}
	var n int
	err := json.Unmarshal(v, &n)
	return n, err
}

func (j *memJournal) Stock(item string) (int64, error) { return j.stock[item], nil }

// SyncStatus: the harness's head office holds everything up to j.watermark.
func (j *memJournal) SyncStatus(seq uint64) string {
	if seq <= j.watermark {
		return SyncStored
	}
	return SyncUnsynced
}

func (j *memJournal) apply(recs []Record) {
	for _, r := range recs {
		if j.records[r.Bucket] == nil {
			j.records[r.Bucket] = map[string][]byte{}
		}
		if r.Value == nil {
			delete(j.records[r.Bucket], r.Key)
		} else {
			j.records[r.Bucket][r.Key] = r.Value
		}
	}
}

// harness drives an engine as the run loop does: it journals what the engine commits.
type harness struct {
	t       *testing.T
	e       *Engine
	j       *memJournal
	now     time.Time
	out     Output
	drawer  []string
	printed []string
}

func newHarness(t *testing.T) *harness {
	j := &memJournal{records: map[string]map[string][]byte{}, stock: map[string]int64{}}
	cfg := Config{Store: "s042", Till: "t03", ReceiptPrefix: "S042-T03", Currency: "PLN", DecimalSep: ","}
	return &harness{t: t, e: New(cfg, testCatalog(), j), j: j, now: time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)}
}

// do runs a script: words are key names (ENTER, PLU, QTY, ...), runs of digits type those
// digits, "scan:CODE" scans a code. It fails the test on a refusal unless the step is
// prefixed with "!" (a refusal is then required).
func (h *harness) do(script string) *harness {
	h.t.Helper()
	for _, w := range strings.Fields(script) {
		wantRefusal := strings.HasPrefix(w, "!")
		w = strings.TrimPrefix(w, "!")
		h.now = h.now.Add(time.Second)
		switch {
		case strings.HasPrefix(w, "scan:"):
			h.out = h.e.ScanCode(Scan{Code: w[5:], Price: -1, Weight: -1}, h.now)
		case isDigits(w):
			for _, c := range w {
				if c == '.' {
					h.out = h.e.Key(KeyPoint, h.now)
				} else {
					h.out = h.e.Key(Key0+Key(c-'0'), h.now)
				}
			}
		default:
			k, ok := KeyByName(strings.ReplaceAll(w, "_", " "))
			if !ok {
				h.t.Fatalf("script: unknown key %q", w)
			}
			h.out = h.e.Key(k, h.now)
		}
		h.settle()
		if wantRefusal && h.out.Refused == "" {
			h.t.Fatalf("step %q: want a refusal, got %q", w, h.out.Operator)
		}
		if !wantRefusal && h.out.Refused != "" {
			h.t.Fatalf("step %q refused: %s", w, h.out.Refused)
		}
	}
	return h
}

func (h *harness) scan(s Scan) *harness {
	h.t.Helper()
	h.now = h.now.Add(time.Second)
	h.out = h.e.ScanCode(s, h.now)
	h.settle()
	return h
}

// settle journals a commit the way the run loop does, then reports it back.
func (h *harness) settle() {
	h.j.apply(h.out.Save)
	c := h.out.Commit
	if c == nil {
		return
	}
	if h.j.failNext != nil {
		err := h.j.failNext
		h.j.failNext = nil
		if c.Entry.Kind.Document() {
			h.out = h.e.CommitFailed(err)
		}
		return
	}
	e := c.Entry
	e.Seq = uint64(len(h.j.entries) + 1)
	if e.Kind.Document() {
		h.j.lastDoc++
		e.Receipt = journal.ReceiptNumber("S042-T03", h.j.lastDoc)
	}
	if c.Report {
		m := map[string]any{}
		if len(e.Data) > 0 {
			json.Unmarshal(e.Data, &m)
		}
		m["report"] = "figures"
		e.Data, _ = json.Marshal(m)
	}
	h.j.entries = append(h.j.entries, e)
	for _, m := range c.Stock {
		h.j.stock[m.Item] += m.Qty
	}
	h.j.apply(c.Records)
	if c.Print {
		h.printed = append(h.printed, e.Receipt)
	}
	if c.OpenDrawer != "" {
		h.drawer = append(h.drawer, c.OpenDrawer)
	}
	if e.Kind.Document() {
		prevSave := h.out.Save
		h.out = h.e.Committed(e)
		h.out.Save = append(prevSave, h.out.Save...)
		h.j.apply(h.out.Save)
	}
}

func isDigits(s string) bool {
	for _, c := range s {
		if (c < '0' || c > '9') && c != '.' {
			return false
		}
	}
	return s != ""
}

func (h *harness) last() journal.Entry {
	h.t.Helper()
	if len(h.j.entries) == 0 {
		h.t.Fatal("nothing journaled")
	}
	return h.j.entries[len(h.j.entries)-1]
}

func (h *harness) lastDoc() journal.Entry {
	h.t.Helper()
	for i := len(h.j.entries) - 1; i >= 0; i-- {
		if h.j.entries[i].Kind.Document() {
			return h.j.entries[i]
		}
	}
	h.t.Fatal("no document journaled")
	return journal.Entry{}
}

func (h *harness) signedOn(id, pin string) *harness {
	h.t.Helper()
	return h.do(fmt.Sprintf("SIGN_ON/OFF %s ENTER %s ENTER", id, pin))
}

func (h *harness) docs() int {
	n := 0
	for _, e := range h.j.entries {
		if e.Kind.Document() {
			n++
		}
	}
	return n
}
