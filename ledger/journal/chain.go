package journal

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
)

// ErrMalformed: bytes that should hold an entry do not decode as one.
var ErrMalformed = errors.New("journal: malformed entry")

// ChainError locates the first broken link found by VerifyChain.
type ChainError struct {
	Seq    uint64 // the entry at fault
	Reason string
}

func (e *ChainError) Error() string {
	return "journal: chain: seq " + strconv.FormatUint(e.Seq, 10) + ": " + e.Reason
}

// VerifyChain checks a run of consecutive entries received from elsewhere (an export file,
// HQ's store): seqs consecutive, each hash matching its content and each prev the hash
// before it. prev is the hash the first entry must chain to (GenesisPrev for seq 1). It
// returns the last hash, or a *ChainError for the first broken link.
func VerifyChain(prev string, entries []Entry) (string, error) {
	for i := range entries {
		e := &entries[i]
		if i > 0 && e.Seq != entries[i-1].Seq+1 {
			return "", &ChainError{Seq: e.Seq, Reason: fmt.Sprintf("follows seq %d", entries[i-1].Seq)}
		}
		if e.Prev != prev {
			return "", &ChainError{Seq: e.Seq, Reason: fmt.Sprintf("prev %s does not match %s", Short(e.Prev), Short(prev))}
		}
		if err := e.CheckHash(); err != nil {
			return "", &ChainError{Seq: e.Seq, Reason: err.Error()}
		}
		prev = e.Hash
	}
	return prev, nil
}

// ReadExport reads a JSON Lines export (one stored entry per line, as the ledger's Export
// writes it) back into entries, checking that each line decodes; a line that does not is
// reported with its number and ErrMalformed. It does not check the chain: VerifyChain does,
// given the hash the first entry follows.
func ReadExport(r io.Reader) ([]Entry, error) {
	var out []Entry
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	line := 0
	for sc.Scan() {
		line++
		if len(sc.Bytes()) == 0 {
			continue
		}
		var e Entry
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			return out, fmt.Errorf("journal: read export: line %d: %w: %v", line, ErrMalformed, err)
		}
		out = append(out, e)
	}
	if err := sc.Err(); err != nil {
		return out, fmt.Errorf("journal: read export: line %d: %w", line+1, err)
	}
	return out, nil
}
