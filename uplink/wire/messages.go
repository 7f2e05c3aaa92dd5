package wire

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"math/bits"
	"time"

	"tillbox/ledger/journal"
)

// Ack is HQ's acknowledgement, retained per till: every seq <= Through is durably stored
// at HQ, chain verified. An HQ with a signing key names the till and signs the ack
// (SignAck), and a till that knows HQ's key moves its watermark only on such an ack
// (DecodeSignedAck): whoever else can publish on the ack topic (a compromised broker, a
// leaked account) could otherwise make unsent sales count as stored and be pruned.
//
// HeldFrom and HeldTo, both present or both absent, are what HQ holds of the till above
// Through while it waits for a gap below them to close: HeldFrom is the lowest entry it
// holds above Through and HeldTo the highest, so it lacks every entry from Through+1 to
// HeldFrom-1 and holds none above HeldTo; both 0 when it holds nothing above Through.
// HeldCount is how many entries from HeldFrom to HeldTo HQ holds (HeldFrom and HeldTo
// among them): HeldTo-HeldFrom+1 when it lacks none of them, so that a till sends again
// only the gap below HeldFrom; fewer when losses are scattered above it (a consumer killed
// with its share of a shared subscription's messages), which a till then sends again in
// one round, not one gap per two probes. HeldMap, when the range spans at most
// MaxHeldMap entries, says which: bit i (the least significant first, of byte i/8) is
// set when HQ holds HeldFrom+i, in unpadded base64url; a till then sends again only the
// entries HQ lacks, and without it everything from Through+1 to HeldTo. A held message
// without HeldCount (from an HQ before it) says only that HQ lacks Through+1 and holds
// HeldFrom and HeldTo: a till then sends again from Through+1 to HeldFrom-1.
//
// Only the held message carries them (HeldPayload, on the till's held topic, never
// retained): the acks on the ack topic keep the form every till reads, since a till
// decodes strictly and refuses a field it does not know. The signature covers them.
type Ack struct {
	V         int     `json:"v"`
	Through   *uint64 `json:"through"`
	HeldFrom  *uint64 `json:"held_from,omitempty"`
	HeldTo    *uint64 `json:"held_to,omitempty"`
	HeldCount *uint64 `json:"held_count,omitempty"`
	HeldMap   string  `json:"held_map,omitempty"`
	Store     string  `json:"store,omitempty"`
	Till      string  `json:"till,omitempty"`
	Sig       string  `json:"sig,omitempty"`
}

// MaxHeldMap bounds the entries a held message's HeldMap spans (its range, HeldFrom to
// HeldTo): 8,192 entries, 1 KiB of bits. A wider range is sent with its count alone.
const MaxHeldMap = 8192

// KindHeld is the till's held topic, {p}/{store}/{till}/held (Topics.Till): HQ -> till,
// QoS 0 (as the ack: the till subscribes to both with QoS 0), not retained, HeldPayload. HQ publishes it only beside an ack that answers
// entries it already had, ahead of that ack and over the same connection.
const KindHeld Kind = "held"

// Held reports whether a carries what HQ holds above its watermark, and the range.
func (a Ack) Held() (from, to uint64, ok bool) {
	if a.HeldFrom == nil || a.HeldTo == nil {
		return 0, 0, false
	}
	return *a.HeldFrom, *a.HeldTo, true
}

// Holding is what a held message says HQ holds of a till above its watermark Through
// (see Ack): From to To, 0 and 0 for nothing. Count is how many of From..To it holds,
// 0 when the message does not say (a range, when there is one, holds at least From and
// To). Map, nil when the message does not say, has bit i (least significant first, of
// byte i/8) set when HQ holds From+i.
type Holding struct {
	Through, From, To, Count uint64
	Map                      []byte
}

// Holding reports whether a is a held message, and what it says.
func (a Ack) Holding() (Holding, bool) {
	from, to, ok := a.Held()
	if !ok {
		return Holding{}, false
	}
	h := Holding{Through: *a.Through, From: from, To: to}
	if a.HeldCount != nil {
		h.Count = *a.HeldCount
	}
	if a.HeldMap != "" {
		h.Map, _ = base64.RawURLEncoding.Strict().DecodeString(a.HeldMap) // checked by DecodeAckMessage
	}
	return h, true
}

// Complete reports whether HQ said it holds every entry from From to To.
func (h Holding) Complete() bool {
	return h.From != 0 && h.Count == h.To-h.From+1
}

// Lacks reports whether HQ lacks seq (above Through), and whether it said so: below From
// and above To it does; within the range it says only with a count of all of it or a map.
func (h Holding) Lacks(seq uint64) (lacks, said bool) {
	switch {
	case seq <= h.Through:
		return false, true
	case h.From == 0 || seq < h.From || seq > h.To:
		return true, true
	case h.Complete():
		return false, true
	case h.Map != nil:
		i := seq - h.From
		return h.Map[i/8]&(1<<(i%8)) == 0, true
	}
	return false, false
}

// HeldMapOf is the map of which of from..to seqs holds (seqs in any order, those outside
// ignored), for Holding.Map: nil when the range spans more than MaxHeldMap entries.
func HeldMapOf(from, to uint64, seqs []uint64) []byte {
	if from == 0 || to < from || to-from >= MaxHeldMap {
		return nil
	}
	m := make([]byte, (to-from+8)/8)
	for _, s := range seqs {
		if s >= from && s <= to {
			i := s - from
			m[i/8] |= 1 << (i % 8)
		}
	}
	return m
}

// AckPayload is the ack HQ publishes for store/till through seq: with key, signed and
// naming its till (what a till that knows HQ's key requires); with a nil key, the
// unsigned {"v":1,"through":N}. It is the only encoder of acks on the ack topic.
func AckPayload(key ed25519.PrivateKey, store, till string, through uint64) []byte {
	return ackBytes(key, Ack{V: Version, Through: &through}, store, till)
}

// HeldPayload is the held message HQ publishes for store/till beside an ack through
// h.Through that answers entries it already had: the ack, and what HQ holds above it (see
// Ack). A Count of 0 or a nil Map is left out, and so are both for a range of 0 and 0.
// Signed and naming its till with key, as AckPayload.
func HeldPayload(key ed25519.PrivateKey, store, till string, h Holding) []byte {
	a := Ack{V: Version, Through: &h.Through, HeldFrom: &h.From, HeldTo: &h.To}
	if h.From != 0 && h.Count != 0 {
		a.HeldCount = &h.Count
		if h.Map != nil {
			a.HeldMap = base64.RawURLEncoding.EncodeToString(h.Map)
		}
	}
	return ackBytes(key, a, store, till)
}

func ackBytes(key ed25519.PrivateKey, a Ack, store, till string) []byte {
	if key != nil {
		a.Store, a.Till = store, till
		a.Sig = signAck(key, a)
	}
	b, _ := json.Marshal(&a) // an Ack of strings and numbers always encodes
	return b
}

// EncodeAck is the unsigned payload {"v":1,"through":N}: AckPayload without a key.
func EncodeAck(through uint64) []byte { return AckPayload(nil, "", "", through) }

// DecodeAck decodes an ack payload, signed or not, and returns its through.
func DecodeAck(p []byte) (uint64, error) {
	a, err := DecodeAckMessage(p)
	if err != nil {
		return 0, err
	}
	return *a.Through, nil
}

// DecodeAckMessage decodes an ack or held payload, signed or not, without checking a
// signature. Through is set; HeldFrom and HeldTo are both set or both nil; HeldCount and
// HeldMap come only with them and agree with them and each other (see Ack).
func DecodeAckMessage(p []byte) (Ack, error) {
	var a Ack
	if err := decodeStrict("ack", p, MaxSmallBytes, &a, func() int { return a.V }); err != nil {
		return Ack{}, err
	}
	switch {
	case a.Through == nil:
		return Ack{}, missing("ack", "through")
	case *a.Through > MaxSeq:
		return Ack{}, invalid("ack", "through %d above %d", *a.Through, uint64(MaxSeq))
	case a.Store != "" && !journal.ValidID(a.Store) || a.Till != "" && !journal.ValidID(a.Till):
		return Ack{}, invalid("ack", "store/till %q/%q: want 1-32 of [a-z0-9-]", clip(a.Store), clip(a.Till))
	case (a.HeldFrom == nil) != (a.HeldTo == nil):
		return Ack{}, invalid("ack", "held_from and held_to: want both or neither")
	case a.HeldFrom == nil && (a.HeldCount != nil || a.HeldMap != ""):
		return Ack{}, invalid("ack", "held_count or held_map without held_from and held_to")
	case a.HeldMap != "" && a.HeldCount == nil:
		return Ack{}, invalid("ack", "held_map without held_count")
	}
	from, to, ok := a.Held()
	if !ok {
		return a, nil
	}
	if from == 0 && to == 0 {
		if a.HeldCount != nil && *a.HeldCount != 0 || a.HeldMap != "" {
			return Ack{}, invalid("ack", "held_count or held_map with nothing held (held_from and held_to 0)")
		}
		return a, nil
	}
	// Through+1 is not held (else Through would be above it), and through <= MaxSeq,
	// so through+1 cannot overflow.
	if from <= *a.Through+1 || to < from || to > MaxSeq {
		return Ack{}, invalid("ack", "held %d-%d above through %d: want through+1 < held_from <= held_to <= %d, or both 0",
			from, to, *a.Through, uint64(MaxSeq))
	}
	if a.HeldCount == nil {
		return a, nil
	}
	span := to - from + 1 // to <= MaxSeq: no overflow
	if n := *a.HeldCount; n > span || n < min(span, 2) {
		return Ack{}, invalid("ack", "held_count %d for held %d-%d: want %d to %d (held_from and held_to are held)",
			n, from, to, min(span, 2), span)
	}
	if a.HeldMap == "" {
		return a, nil
	}
	if span > MaxHeldMap {
		return Ack{}, invalid("ack", "held_map for held %d-%d: at most %d entries have a map", from, to, MaxHeldMap)
	}
	m, err := base64.RawURLEncoding.Strict().DecodeString(a.HeldMap)
	if err != nil || uint64(len(m)) != (span+7)/8 {
		return Ack{}, invalid("ack", "held_map: want %d bytes of unpadded base64url for held %d-%d", (span+7)/8, from, to)
	}
	var n uint64
	for _, b := range m {
		n += uint64(bits.OnesCount8(b))
	}
	last := span - 1
	switch {
	case m[len(m)-1]>>(last%8+1) != 0:
		return Ack{}, invalid("ack", "held_map: bits set above held_to %d", to)
	case m[0]&1 == 0 || m[last/8]&(1<<(last%8)) == 0:
		return Ack{}, invalid("ack", "held_map: held_from %d or held_to %d not set", from, to)
	case n != *a.HeldCount:
		return Ack{}, invalid("ack", "held_map holds %d entries, held_count says %d", n, *a.HeldCount)
	}
	return a, nil
}

// decodeAck is DecodeAckMessage for DecodeSignedAck.
func decodeAck(p []byte) (Ack, error) { return DecodeAckMessage(p) }

// DecodeSignedAckMessage decodes an ack or held payload (see DecodeAckMessage) only when
// HQ's key signed it for store/till: the signature covers the held range too.
func DecodeSignedAckMessage(p []byte, pub ed25519.PublicKey, store, till string) (Ack, error) {
	if _, err := DecodeSignedAck(p, pub, store, till); err != nil {
		return Ack{}, err
	}
	return DecodeAckMessage(p)
}

// Till states published in status.
const (
	StateOnline  = "online"
	StateStopped = "stopped" // the uplink shut down cleanly
	StateLost    = "lost"    // the broker's last will: the till vanished without a goodbye
)

// Device is one peripheral as the firmware reports it.
type Device struct {
	Name   string `json:"name"`             // "printer", "scanner", ...
	State  string `json:"state"`            // "online", "offline", "paper-out", ...
	Detail string `json:"detail,omitempty"` // model, port, last error
}

// Status is the retained per-till status for the fleet view. A till publishes it with
// State online or stopped; the broker publishes LostWill on its behalf.
type Status struct {
	V              int        `json:"v"`
	State          string     `json:"state"`
	At             *time.Time `json:"at,omitempty"`
	Version        string     `json:"version,omitempty"` // firmware version
	Slot           string     `json:"slot,omitempty"`    // the A/B slot the firmware runs from
	Board          string     `json:"board,omitempty"`
	LastSeq        uint64     `json:"last_seq,omitempty"`
	Watermark      uint64     `json:"watermark,omitempty"`
	Backlog        uint64     `json:"backlog"`                   // entries not yet acknowledged by HQ
	OldestUnsynced *time.Time `json:"oldest_unsynced,omitempty"` // At of the first of them
	Devices        []Device   `json:"devices,omitempty"`
	LedgerBytes    int64      `json:"ledger_bytes,omitempty"`
	FreeDiskBytes  int64      `json:"free_disk_bytes,omitempty"`
	Catalog        uint64     `json:"catalog,omitempty"`   // version of the catalog in use
	LastSale       *time.Time `json:"last_sale,omitempty"` // At of the last sale journaled
}

// LostWill is the retained last will a till leaves with the broker.
func LostWill() []byte { return []byte(`{"v":1,"state":"lost"}`) }

// EncodeStatus encodes s with v set.
func EncodeStatus(s Status) ([]byte, error) {
	s.V = Version
	return marshal("status", &s)
}

// DecodeStatus decodes a status payload.
func DecodeStatus(p []byte) (Status, error) {
	var s Status
	if err := decodeStrict("status", p, MaxSmallBytes, &s, func() int { return s.V }); err != nil {
		return Status{}, err
	}
	const what = "status"
	switch {
	case s.State == "":
		return Status{}, missing(what, "state")
	case s.LastSeq > MaxSeq || s.Watermark > MaxSeq || s.Backlog > MaxSeq:
		return Status{}, invalid(what, "last_seq %d, watermark %d, backlog %d: each at most %d", s.LastSeq, s.Watermark, s.Backlog, uint64(MaxSeq))
	case s.Catalog > MaxSeq:
		return Status{}, invalid(what, "catalog version %d above %d", s.Catalog, uint64(MaxSeq))
	case s.LedgerBytes < 0 || s.FreeDiskBytes < 0:
		return Status{}, invalid(what, "ledger_bytes %d, free_disk_bytes %d: negative", s.LedgerBytes, s.FreeDiskBytes)
	}
	return s, nil
}

// Event kinds. The firmware may publish others; these are the ones the uplink and HQ raise
// or the fleet is expected to act on.
const (
	EventPaperOut        = "paper-out"
	EventDrawerLeftOpen  = "drawer-left-open"
	EventDiskLow         = "disk-low"
	EventLongOffline     = "long-offline"
	EventIntegrityError  = "integrity-error"
	EventUpdateFailed    = "update-failed"
	EventCatalogApplied  = "catalog-applied"
	EventCatalogRejected = "catalog-rejected"
	EventCommandDropped  = "command-dropped"
	EventCommandRefused  = "command-refused" // unsigned, wrongly signed, expired or misaddressed
	EventAckRefused      = "ack-refused"     // an ack HQ did not sign for this till: the watermark stays
)

// Severities of an event.
const (
	SeverityInfo    = "info"
	SeverityWarning = "warning"
	SeverityError   = "error"
)

// Event is an alert from a till to the fleet. Events are not durable: a till keeps a
// bounded queue of them while offline and drops the oldest.
type Event struct {
	V        int       `json:"v"`
	Kind     string    `json:"kind"`
	Severity string    `json:"severity,omitempty"`
	Detail   string    `json:"detail,omitempty"`
	At       time.Time `json:"at"`
}

// EncodeEvent encodes e with v set.
func EncodeEvent(e Event) ([]byte, error) {
	e.V = Version
	return marshal("event", &e)
}

// DecodeEvent decodes an event payload.
func DecodeEvent(p []byte) (Event, error) {
	var e Event
	if err := decodeStrict("event", p, MaxSmallBytes, &e, func() int { return e.V }); err != nil {
		return Event{}, err
	}
	if e.Kind == "" {
		return Event{}, missing("event", "kind")
	}
	return e, nil
}

// Command names a till understands. Others are answered with an error result.
const (
	CmdSyncNow       = "sync-now"
	CmdStatus        = "status"
	CmdReloadCatalog = "reload-catalog"
	CmdUpdate        = "update" // carried out by the firmware when it registers a handler
)

// Cmd is a command from the fleet to one till. ID makes it idempotent: a till answers a
// repeated ID with the result it remembered and does not run the command again.
//
// A fleet with an HQ signing key signs every command (SignCmd): it then names its till
// and expires, and a till that knows HQ's key refuses any command that is not so signed.
type Cmd struct {
	V       int             `json:"v"`
	ID      string          `json:"id"`
	Name    string          `json:"name"`
	Args    json.RawMessage `json:"args,omitempty"`
	Store   string          `json:"store,omitempty"`
	Till    string          `json:"till,omitempty"`
	Expires *time.Time      `json:"expires,omitempty"`
	Sig     string          `json:"sig,omitempty"`
}

// MaxCmdID bounds a command id.
const MaxCmdID = 64

// EncodeCmd encodes c with v set.
func EncodeCmd(c Cmd) ([]byte, error) {
	c.V = Version
	return marshal("cmd", &c)
}

// DecodeCmd decodes a cmd payload.
func DecodeCmd(p []byte) (Cmd, error) {
	var c Cmd
	if err := decodeStrict("cmd", p, MaxSmallBytes, &c, func() int { return c.V }); err != nil {
		return Cmd{}, err
	}
	switch {
	case c.ID == "":
		return Cmd{}, missing("cmd", "id")
	case len(c.ID) > MaxCmdID || !printable(c.ID):
		return Cmd{}, invalid("cmd", "id: want 1-%d printable ASCII characters", MaxCmdID)
	case c.Name == "":
		return Cmd{}, missing("cmd", "name")
	case c.Store != "" && !journal.ValidID(c.Store) || c.Till != "" && !journal.ValidID(c.Till):
		return Cmd{}, invalid("cmd", "store/till %q/%q: want 1-32 of [a-z0-9-]", clip(c.Store), clip(c.Till))
	}
	return c, nil
}

// CmdResult answers a Cmd. Repeated is true when the answer is the remembered result of
// an earlier delivery of the same ID.
type CmdResult struct {
	V        int             `json:"v"`
	ID       string          `json:"id"`
	Name     string          `json:"name,omitempty"`
	OK       bool            `json:"ok"`
	Error    string          `json:"error,omitempty"`
	Result   json.RawMessage `json:"result,omitempty"`
	Repeated bool            `json:"repeated,omitempty"`
}

// EncodeCmdResult encodes r with v set.
func EncodeCmdResult(r CmdResult) ([]byte, error) {
	r.V = Version
	return marshal("cmd/result", &r)
}

// DecodeCmdResult decodes a cmd/result payload.
func DecodeCmdResult(p []byte) (CmdResult, error) {
	var r CmdResult
	if err := decodeStrict("cmd/result", p, MaxSmallBytes, &r, func() int { return r.V }); err != nil {
		return CmdResult{}, err
	}
	if r.ID == "" {
		return CmdResult{}, missing("cmd/result", "id")
	}
	return r, nil
}

func printable(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return false
		}
	}
	return true
}
