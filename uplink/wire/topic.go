package wire

import (
	"fmt"
	"strings"

	"tillbox/ledger/journal"
)

// DefaultPrefix is the topic prefix of this contract's version 1.
const DefaultPrefix = "tillbox/v1"

// Kind names a topic's last level (or levels, for cmd/result).
type Kind string

// Topic kinds.
const (
	KindTx        Kind = "tx"
	KindAck       Kind = "ack"
	KindStatus    Kind = "status"
	KindEvent     Kind = "event"
	KindCmd       Kind = "cmd"
	KindCmdResult Kind = "cmd/result"
	KindCatalog   Kind = "catalog" // per store: Till is empty
)

// Topics builds and parses topics under one prefix. The zero value uses DefaultPrefix.
type Topics struct {
	Prefix string
}

func (t Topics) prefix() string {
	if t.Prefix == "" {
		return DefaultPrefix
	}
	return strings.TrimSuffix(t.Prefix, "/")
}

// CheckPrefix reports whether p can serve as a prefix: non-empty levels without wildcards.
func CheckPrefix(p string) error {
	p = strings.TrimSuffix(p, "/")
	if p == "" || strings.HasPrefix(p, "$") || strings.ContainsAny(p, "+#\x00") || strings.Contains(p, "//") || strings.HasPrefix(p, "/") {
		return fmt.Errorf("wire: prefix %q: %w: want levels without wildcards", p, ErrInvalid)
	}
	return nil
}

// Till builds the topic of kind k for one till. It panics on an invalid id, because ids
// are checked where they enter the program (ledger.Open, configuration) and a bad one here
// is a programming error.
func (t Topics) Till(store, till string, k Kind) string {
	mustID(store)
	mustID(till)
	return t.prefix() + "/" + store + "/" + till + "/" + string(k)
}

// Tx, Ack, Status, Event, Cmd and CmdResult are Till(store, till, kind).
func (t Topics) Tx(store, till string) string        { return t.Till(store, till, KindTx) }
func (t Topics) Ack(store, till string) string       { return t.Till(store, till, KindAck) }
func (t Topics) Status(store, till string) string    { return t.Till(store, till, KindStatus) }
func (t Topics) Event(store, till string) string     { return t.Till(store, till, KindEvent) }
func (t Topics) Cmd(store, till string) string       { return t.Till(store, till, KindCmd) }
func (t Topics) CmdResult(store, till string) string { return t.Till(store, till, KindCmdResult) }

// Catalog is the retained per-store master data topic.
func (t Topics) Catalog(store string) string {
	mustID(store)
	return t.prefix() + "/" + store + "/catalog"
}

// AllTills is the filter matching kind k of every till of every store, e.g. every tx.
func (t Topics) AllTills(k Kind) string { return t.prefix() + "/+/+/" + string(k) }

// Shared wraps a filter as an MQTT shared subscription of group (several consumers share
// the messages); an empty group returns the filter unchanged.
func Shared(group, filter string) string {
	if group == "" {
		return filter
	}
	return "$share/" + group + "/" + filter
}

// Topic is a parsed topic.
type Topic struct {
	Store, Till string // Till is empty for a catalog topic
	Kind        Kind
}

// Parse splits a topic under t's prefix into its store, till and kind.
func (t Topics) Parse(topic string) (Topic, error) {
	p := t.prefix() + "/"
	if !strings.HasPrefix(topic, p) {
		return Topic{}, fmt.Errorf("wire: topic %q: %w: prefix is not %q", clip(topic), ErrTopic, t.prefix())
	}
	lv := strings.Split(topic[len(p):], "/")
	var out Topic
	switch {
	case len(lv) == 2 && lv[1] == string(KindCatalog):
		out = Topic{Store: lv[0], Kind: KindCatalog}
	case len(lv) == 3:
		out = Topic{Store: lv[0], Till: lv[1], Kind: Kind(lv[2])}
		switch out.Kind {
		case KindTx, KindAck, KindStatus, KindEvent, KindCmd:
		default:
			return Topic{}, fmt.Errorf("wire: topic %q: %w: unknown kind %q", clip(topic), ErrTopic, lv[2])
		}
	case len(lv) == 4 && lv[2]+"/"+lv[3] == string(KindCmdResult):
		out = Topic{Store: lv[0], Till: lv[1], Kind: KindCmdResult}
	default:
		return Topic{}, fmt.Errorf("wire: topic %q: %w", clip(topic), ErrTopic)
	}
	if !journal.ValidID(out.Store) || out.Kind != KindCatalog && !journal.ValidID(out.Till) {
		return Topic{}, fmt.Errorf("wire: topic %q: %w: store and till ids are 1-32 of [a-z0-9-]", clip(topic), ErrTopic)
	}
	return out, nil
}

func mustID(id string) {
	if !journal.ValidID(id) {
		panic(fmt.Sprintf("wire: invalid store or till id %q", id))
	}
}

// clip bounds what a hostile topic or value can put into an error message or a log line.
func clip(s string) string {
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}
