package wire

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"

	"tillbox/ledger/journal"
)

// Tx is a decoded tx payload: the ledger entry and the exact bytes it came as, which are
// what HQ stores so that the hash can be checked again at any time.
type Tx struct {
	Entry journal.Entry
	Raw   []byte
}

// DecodeTx decodes and checks a tx payload received on topic t (whose Kind must be tx):
// size, JSON, version, known fields only, required fields, store and till equal to the
// topic's, and the entry's own hash. raw is kept by reference in the result.
func DecodeTx(t Topic, raw []byte) (Tx, error) {
	if t.Kind != KindTx {
		return Tx{}, fmt.Errorf("wire: decode tx: %w: topic kind %q", ErrTopic, t.Kind)
	}
	tx, err := DecodeEntry(raw)
	if err != nil {
		return Tx{}, err
	}
	e := &tx.Entry
	if e.Store != t.Store || e.Till != t.Till {
		return Tx{}, fmt.Errorf("wire: decode tx: %w: payload is %s/%s, topic is %s/%s", ErrIdentity, clip(e.Store), clip(e.Till), t.Store, t.Till)
	}
	return tx, nil
}

// DecodeEntry decodes and checks a tx payload that came without a topic (a line of an
// exported file): everything DecodeTx checks except the identity against a topic.
//
// A till sends exactly the bytes its ledger stored, which are the canonical encoding of
// the entry with the hash as the last field. So the fast path reads the payload in that
// encoding only (readCanonical, or else decoding once, encoding the result again and
// requiring the same bytes), which also refuses unknown fields, duplicate keys and any
// other spelling; then it hashes the payload without its hash field. Only a payload that
// fails is decoded again, strictly, to say precisely why.
func DecodeEntry(raw []byte) (Tx, error) {
	if len(raw) > MaxTxBytes {
		return Tx{}, fmt.Errorf("wire: decode tx: %w: %d bytes, limit %d", ErrTooLarge, len(raw), MaxTxBytes)
	}
	var e journal.Entry
	if readCanonical(raw, &e) || isCanonical(raw, &e) {
		if err := checkFields(&e); err != nil {
			return Tx{}, err
		}
		if !hashMatches(raw, e.Sig, e.Hash) {
			return Tx{}, fmt.Errorf("wire: decode tx: %w: seq %d: hash %s does not match the entry's content", ErrInvalid, e.Seq, clip(e.Hash))
		}
		return Tx{Entry: e, Raw: raw}, nil
	}
	// Slow path: find the reason.
	e = journal.Entry{}
	if err := decodeStrict("tx", raw, MaxTxBytes, &e, func() int { return e.V }); err != nil {
		return Tx{}, err
	}
	if err := CheckEntry(&e); err != nil {
		return Tx{}, err
	}
	return Tx{}, fmt.Errorf("wire: decode tx: %w: seq %d: not in the ledger's canonical encoding", ErrInvalid, e.Seq)
}

// isCanonical decodes raw into e with encoding/json and reports whether encoding e again
// gives raw: the definition of the canonical encoding, for what readCanonical leaves.
func isCanonical(raw []byte, e *journal.Entry) bool {
	*e = journal.Entry{}
	if json.Unmarshal(raw, e) != nil {
		return false
	}
	again, err := json.Marshal(e)
	return err == nil && bytes.Equal(again, raw)
}

// hashSuffix is the length of `,"hash":"<64 hex>"}`, the end of every canonical payload
// of an unsigned entry; a signed one ends `,"hash":"<64 hex>","sig":"<sig>"}`.
const hashSuffix = len(`,"hash":""}`) + 64

// hashMatches reports whether hash is the hex SHA-256 of what the hash covers: the
// payload without its hash and sig fields, closed again. The caller has checked that raw
// is canonical, so they are its last fields. It hashes raw in place, without a copy.
func hashMatches(raw []byte, sig, hash string) bool {
	cut := hashSuffix
	if sig != "" {
		cut += len(`,"sig":""`) + len(sig)
	}
	h := sha256.New()
	h.Write(raw[:len(raw)-cut])
	h.Write([]byte{'}'})
	var sum [sha256.Size]byte
	var hexSum [2 * sha256.Size]byte
	hex.Encode(hexSum[:], h.Sum(sum[:0]))
	return string(hexSum[:]) == hash
}

// CheckEntry checks a decoded entry's fields and its own hash (not its chain). It is also
// what HQ applies to the lines of an exported file, which have no topic.
func CheckEntry(e *journal.Entry) error {
	if err := checkFields(e); err != nil {
		return err
	}
	if err := e.CheckHash(); err != nil {
		return fmt.Errorf("wire: decode tx: %w: seq %d: %v", ErrInvalid, e.Seq, err)
	}
	return nil
}

func checkFields(e *journal.Entry) error {
	const what = "tx"
	switch {
	case e.V != journal.FormatVersion:
		return fmt.Errorf("wire: decode tx: %w: v %d", ErrVersion, e.V)
	case e.Store == "":
		return missing(what, "store")
	case e.Till == "":
		return missing(what, "till")
	case !journal.ValidID(e.Store) || !journal.ValidID(e.Till):
		return invalid(what, "store/till %q/%q: want 1-32 of [a-z0-9-]", clip(e.Store), clip(e.Till))
	case e.Seq == 0:
		return missing(what, "seq")
	case e.Seq > MaxSeq:
		return invalid(what, "seq %d above %d, the largest a bigint holds", e.Seq, uint64(MaxSeq))
	case e.Kind == "":
		return missing(what, "kind")
	case !e.Kind.Known():
		return invalid(what, "seq %d: unknown kind %q", e.Seq, clip(string(e.Kind)))
	case e.At.IsZero():
		return missing(what, "at")
	case e.Prev == "":
		return missing(what, "prev")
	case e.Hash == "":
		return missing(what, "hash")
	case !isHex64(e.Prev) || !isHex64(e.Hash):
		return invalid(what, "seq %d: prev and hash must be 64 lower-case hex digits", e.Seq)
	case e.Kind.Document() && e.Receipt == "":
		return missing(what, fmt.Sprintf("receipt (seq %d is a %s)", e.Seq, e.Kind))
	case !e.Kind.Document() && e.Receipt != "":
		return invalid(what, "seq %d: a %s carries no receipt", e.Seq, e.Kind)
	case len(e.Receipt) > 64:
		return invalid(what, "seq %d: receipt longer than 64 bytes", e.Seq)
	case e.Receipt != "" && !validReceipt(e.Receipt, e.Seq):
		return invalid(what, "seq %d: receipt %q: want PREFIX-NNNNNN numbered 1 to the seq", e.Seq, clip(e.Receipt))
	case e.Sig != "" && !isSig(e.Sig):
		return invalid(what, "seq %d: sig must be an ed25519 signature in unpadded base64url", e.Seq)
	case e.Seq == 1 && e.Prev != journal.GenesisPrev:
		return invalid(what, "seq 1 must follow the genesis prev")
	}
	return checkFigures(e)
}

// checkFigures checks every quantity and amount of e against the bounds in limits.go.
func checkFigures(e *journal.Entry) error {
	const what = "tx"
	for i, l := range e.Lines {
		switch {
		case !within(l.Qty, MaxQty):
			return invalid(what, "seq %d: lines[%d].qty %d outside ±%d thousandths", e.Seq, i, l.Qty, int64(MaxQty))
		case !within(l.Price, MaxPrice):
			return invalid(what, "seq %d: lines[%d].price %d outside ±%d minor units", e.Seq, i, l.Price, int64(MaxPrice))
		case !within(l.Amount, MaxAmount):
			return invalid(what, "seq %d: lines[%d].amount %d outside ±%d minor units", e.Seq, i, l.Amount, int64(MaxAmount))
		}
	}
	if t := e.Totals; t != nil {
		switch {
		case !within(t.Gross, MaxAmount):
			return invalid(what, "seq %d: totals.gross %d outside ±%d minor units", e.Seq, t.Gross, int64(MaxAmount))
		case !within(t.Change, MaxAmount):
			return invalid(what, "seq %d: totals.change %d outside ±%d minor units", e.Seq, t.Change, int64(MaxAmount))
		}
		for i, x := range t.Taxes {
			switch {
			case x.Rate < 0 || x.Rate > MaxTaxRate:
				return invalid(what, "seq %d: totals.taxes[%d].rate %d basis points outside 0-%d", e.Seq, i, x.Rate, MaxTaxRate)
			case !within(x.Net, MaxAmount) || !within(x.Tax, MaxAmount) || !within(x.Gross, MaxAmount):
				return invalid(what, "seq %d: totals.taxes[%d]: net %d, tax %d, gross %d: outside ±%d minor units", e.Seq, i, x.Net, x.Tax, x.Gross, int64(MaxAmount))
			}
		}
	}
	for i, t := range e.Tenders {
		if !within(t.Amount, MaxAmount) {
			return invalid(what, "seq %d: tenders[%d].amount %d outside ±%d minor units", e.Seq, i, t.Amount, int64(MaxAmount))
		}
	}
	return nil
}

// within reports whether -limit <= v <= limit.
func within(v, limit int64) bool { return v >= -limit && v <= limit }

// validReceipt reports whether r has the form journal.ReceiptNumber gives, a non-empty
// prefix, "-" and a number of at least six digits (zero-padded to six, no leading zero
// beyond them), and whether that number is 1 to seq: a document's own number never runs
// ahead of its place in the chain, whether it is the seq itself or a counter of the
// till's documents.
func validReceipt(r string, seq uint64) bool {
	cut := strings.LastIndexByte(r, '-')
	if cut < 1 {
		return false
	}
	d := r[cut+1:]
	if len(d) < 6 || len(d) > 6 && d[0] == '0' {
		return false
	}
	var n uint64
	for i := 0; i < len(d); i++ {
		c := d[i]
		if c < '0' || c > '9' || n > seq/10 {
			return false
		}
		if n = n*10 + uint64(c-'0'); n > seq {
			return false
		}
	}
	return n >= 1
}

func isHex64(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}
