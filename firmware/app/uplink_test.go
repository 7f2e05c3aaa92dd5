package app

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"tillbox/firmware/config"
)

func TestTheConfiguredTimingsReachTheUplink(t *testing.T) {
	p := filepath.Join(t.TempDir(), "till.json")
	os.WriteFile(p, []byte(`{"uplink":{"broker":"tcp://hq:1883","prefix":"shop/v1","username":"t01","resend_after":"2s","backoff_min":"50ms","backoff_max":"3s","offline_after":"45s"}}`), 0o600)
	cfg, err := config.Load(p)
	if err != nil {
		t.Fatal(err)
	}
	o := uplinkOptions(cfg.Uplink, "tcp://127.0.0.1:1884")
	if o.Broker != "tcp://127.0.0.1:1884" || o.Prefix != "shop/v1" || o.Username != "t01" {
		t.Fatalf("session %+v", o)
	}
	if o.ResendAfter != 2*time.Second || o.BackoffMin != 50*time.Millisecond || o.BackoffMax != 3*time.Second || o.OfflineAfter != 45*time.Second {
		t.Fatalf("timings resend %s backoff %s..%s offline %s", o.ResendAfter, o.BackoffMin, o.BackoffMax, o.OfflineAfter)
	}
	// Timings the file leaves out stay zero: the uplink's own defaults apply.
	d := uplinkOptions(config.Default().Uplink, "tcp://127.0.0.1:1884")
	if d.ResendAfter != 0 || d.BackoffMax != 0 || d.OfflineAfter != 10*time.Second {
		t.Fatalf("defaults: resend %s backoff max %s offline %s", d.ResendAfter, d.BackoffMax, d.OfflineAfter)
	}
}
