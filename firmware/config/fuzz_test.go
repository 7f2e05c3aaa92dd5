package config

import (
	"bytes"
	"encoding/json"
	"testing"
)

// FuzzParse lays any bytes over the defaults as Load does: a refusal says why, and what is
// accepted is one JSON object and a valid configuration that, encoded, parses again (over
// the defaults or over nothing) to the same configuration.
func FuzzParse(f *testing.F) {
	full, err := json.Marshal(Default())
	if err != nil {
		f.Fatal(err)
	}
	f.Add(full)
	f.Add(defaultJSON)
	f.Add([]byte(`{"store":"s042","till":"t03","currency":"PLN","board":"qemu-virt","drawer_left_open":"90s"}`))
	f.Add([]byte(`{"devices":{"printer":{"port":"/dev/ttyUSB0","baud":19200}},"receipt":{"width":42}}`))
	f.Add([]byte(`{"uplink":{"broker":"ssl://hq:8883","username":"t03","password":"x"}}`))
	f.Add([]byte("{\n\"store\": \"s1\",\n oops }"))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := parse(b, Default())
		if err != nil {
			if err.Error() == "" {
				t.Fatal("refused without a reason")
			}
			return
		}
		if !json.Valid(b) {
			t.Fatalf("accepted what is not one JSON value: %q", b)
		}
		enc, err := json.Marshal(c)
		if err != nil {
			t.Fatalf("encode the parsed configuration: %v", err)
		}
		for name, base := range map[string]*Config{"over nothing": nil, "over the defaults": Default()} {
			c2, err := parse(enc, base)
			if err != nil {
				t.Fatalf("re-encoded configuration refused %s: %v\n%s", name, err, enc)
			}
			again, err := json.Marshal(c2)
			if err != nil || !bytes.Equal(again, enc) {
				t.Fatalf("configuration changed on re-encoding %s:\nfirst %s\nagain %s (%v)", name, enc, again, err)
			}
		}
	})
}
