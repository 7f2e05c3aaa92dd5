package hq

import (
	"encoding/json"
	"testing"
)

// TestDataText: a stock document's warehouse and destination are read from its data as
// PostgreSQL's data->>key reads them (what the rebuild on the server gives).
func TestDataText(t *testing.T) {
	for _, c := range []struct {
		data, key string
		want      *string
	}{
		{`{"from":"w1","to":"w9"}`, "from", ptr("w1")},
		{`{"from":"w1","to":"w9"}`, "to", ptr("w9")},
		{`{"from":"w1"}`, "to", nil},
		{`{"from":null}`, "from", nil},
		{`{"from":7}`, "from", ptr("7")},
		{`{"from":true}`, "from", ptr("true")},
		{`["w1"]`, "from", nil},
		{``, "from", nil},
	} {
		got := dataText(json.RawMessage(c.data), c.key)
		if (got == nil) != (c.want == nil) || got != nil && *got != *c.want {
			t.Errorf("dataText(%s, %q) = %v, want %v", c.data, c.key, deref(got), deref(c.want))
		}
	}
}

func ptr(s string) *string { return &s }

func deref(s *string) string {
	if s == nil {
		return "NULL"
	}
	return *s
}
