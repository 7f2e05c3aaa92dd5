package uplink_test

import (
	"os"
	"strings"
	"testing"

	"tillbox/uplink/rig"
)

// natsStormCluster is the cluster the fleet benchmark runs its NATS side on: three nodes on
// loopback with the MQTT settings of the shipped scripts/nats/tillbox.conf that bear on
// throughput (shippedMQTTSettings; no TLS and no users, as Mosquitto's side has none
// either). TILLBOX_FLEET_NATS_MQTT adds settings after them, separated by ';'
// ("consumer_memory_storage: false"), to compare one against the other.
func natsStormCluster(tb testing.TB) *rig.NATSCluster {
	tb.Helper()
	settings := shippedMQTTSettings(tb)
	for _, s := range strings.Split(os.Getenv("TILLBOX_FLEET_NATS_MQTT"), ";") {
		if s = strings.TrimSpace(s); s != "" {
			settings = append(settings, s)
		}
	}
	return rig.StartNATSClusterWith(tb, 3, &rig.NATSOptions{MQTT: settings})
}

// shippedMQTTSettings are the "key: value" lines of the mqtt block of
// scripts/nats/tillbox.conf but its listen address and TLS block.
func shippedMQTTSettings(tb testing.TB) []string {
	tb.Helper()
	b, err := os.ReadFile("../scripts/nats/tillbox.conf")
	if err != nil {
		tb.Fatal(err)
	}
	var out []string
	in, depth := false, 0
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if strings.HasPrefix(line, "#") || line == "" {
			continue
		}
		switch {
		case !in && strings.HasPrefix(line, "mqtt {"):
			in, depth = true, 1
		case in && strings.HasSuffix(line, "{"):
			depth++
		case in && line == "}":
			if depth--; depth == 0 {
				in = false
			}
		case in && depth == 1 && !strings.HasPrefix(line, "listen:"):
			out = append(out, line)
		}
	}
	if len(out) == 0 {
		tb.Fatal("scripts/nats/tillbox.conf: no mqtt settings found")
	}
	return out
}
