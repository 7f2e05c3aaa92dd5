package uplink_test

import (
	"os"
	"strings"
	"testing"

	"tillbox/uplink/rig"
)

// natsStormCluster is the cluster the fleet benchmark runs its NATS side on: three nodes on
// loopback with the MQTT settings of the shipped scripts/nats/tillbox.conf that bear on
// throughput (rig.MQTTSettings; no TLS and no users, as Mosquitto's side has none
// either). TILLBOX_FLEET_NATS_MQTT adds settings after them, separated by ';'
// ("consumer_memory_storage: false"), to compare one against the other. The tills of a
// storm on it send with QoS 0 (uplink.Options.TxQoS0), the tills' setting for a cluster.
func natsStormCluster(tb testing.TB) *rig.NATSCluster {
	tb.Helper()
	settings := rig.MQTTSettings(tb, "../scripts/nats/tillbox.conf")
	for _, s := range strings.Split(os.Getenv("TILLBOX_FLEET_NATS_MQTT"), ";") {
		if s = strings.TrimSpace(s); s != "" {
			settings = append(settings, s)
		}
	}
	return rig.StartNATSClusterWith(tb, 3, &rig.NATSOptions{MQTT: settings})
}
