package wire

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// Version is the "v" of every payload of this contract.
const Version = 1

// Size limits, in bytes, applied before a payload is parsed. A tx limit matches the
// ledger's default MaxEntryBytes, so anything a till can store it can send.
const (
	MaxTxBytes      = 256 << 10
	MaxSmallBytes   = 64 << 10 // ack, status, event, cmd, cmd/result
	MaxCatalogBytes = 8 << 20
)

// versionOnly reads "v" without caring about the rest, so that a payload of another
// version is reported as such and not as "unknown field".
type versionOnly struct {
	V *int `json:"v"`
}

// decodeStrict is the common front of every decoder: size, one JSON object, known fields
// only, no trailing data, and version (v reads the decoded "v"). The happy path parses
// once; a payload that fails is parsed again only to say precisely why.
func decodeStrict(what string, payload []byte, limit int, into any, v func() int) error {
	if len(payload) > limit {
		return fmt.Errorf("wire: decode %s: %w: %d bytes, limit %d", what, ErrTooLarge, len(payload), limit)
	}
	p := bytes.TrimSpace(payload)
	if len(p) == 0 || p[0] != '{' {
		return fmt.Errorf("wire: decode %s: %w: want one JSON object", what, ErrNotJSON)
	}
	dec := json.NewDecoder(bytes.NewReader(p))
	dec.DisallowUnknownFields()
	err := dec.Decode(into)
	if err == nil {
		if _, terr := dec.Token(); terr != io.EOF {
			return fmt.Errorf("wire: decode %s: %w: data after the object", what, ErrNotJSON)
		}
		switch got := v(); {
		case got == 0:
			return fmt.Errorf("wire: decode %s: %w: no \"v\"", what, ErrVersion)
		case got != Version:
			return fmt.Errorf("wire: decode %s: %w: v %d, this build speaks v %d", what, ErrVersion, got, Version)
		}
		return nil
	}
	// Why it failed, most basic reason first: not JSON, another version, then the field.
	if !json.Valid(p) {
		return fmt.Errorf("wire: decode %s: %w: want one JSON object", what, ErrNotJSON)
	}
	var vo versionOnly
	if json.Unmarshal(p, &vo) == nil {
		switch {
		case vo.V == nil:
			return fmt.Errorf("wire: decode %s: %w: no \"v\"", what, ErrVersion)
		case *vo.V != Version:
			return fmt.Errorf("wire: decode %s: %w: v %d, this build speaks v %d", what, ErrVersion, *vo.V, Version)
		}
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return fmt.Errorf("wire: decode %s: %w: field %q: %v", what, ErrInvalid, te.Field, clipErr(err))
	}
	return fmt.Errorf("wire: decode %s: %w: %v", what, ErrNotJSON, clipErr(err))
}

func clipErr(err error) string { return clip(err.Error()) }

func missing(what, field string) error {
	return fmt.Errorf("wire: decode %s: %w: %s", what, ErrMissing, field)
}

func invalid(what, format string, args ...any) error {
	return fmt.Errorf("wire: decode %s: %w: %s", what, ErrInvalid, fmt.Sprintf(format, args...))
}

func marshal(what string, m any) ([]byte, error) {
	b, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("wire: encode %s: %w", what, err)
	}
	return b, nil
}
