package uplink_test

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"tillbox/uplink/rig"
)

// natsStormCluster is the cluster the fleet benchmark runs its NATS side on: three nodes on
// loopback with the MQTT settings of the shipped scripts/nats/tillbox.conf that bear on
// throughput (rig.MQTTSettings; no TLS and no users, as Mosquitto's side has none
// either). TILLBOX_FLEET_NATS_MQTT adds settings after them, separated by ';'
// ("consumer_memory_storage: false"), to compare one against the other. The tills of a
// storm on it send with QoS 0 (uplink.Options.TxQoS0), the tills' setting for a cluster.
//
// TILLBOX_FLEET_NATS_STREAM=memory lays the tx stream out in memory (3 replicas, a work
// queue, the subjects tillhq gives it) before tillhq starts, which uses a stream it finds
// as it is: the cost of the stream's file storage, against the default.
func natsStormCluster(tb testing.TB) *rig.NATSCluster {
	tb.Helper()
	settings := rig.MQTTSettings(tb, "../scripts/nats/tillbox.conf")
	for _, s := range strings.Split(os.Getenv("TILLBOX_FLEET_NATS_MQTT"), ";") {
		if s = strings.TrimSpace(s); s != "" {
			settings = append(settings, s)
		}
	}
	memory := os.Getenv("TILLBOX_FLEET_NATS_STREAM") == "memory"
	o := &rig.NATSOptions{MQTT: settings}
	if memory {
		o.MaxMemory = "2GB"
	}
	cl := rig.StartNATSClusterWith(tb, 3, o)
	if memory {
		nc, err := nats.Connect(cl.NATSURLs(), nats.Timeout(10*time.Second))
		if err != nil {
			tb.Fatal(err)
		}
		defer nc.Close()
		js, err := jetstream.New(nc)
		if err != nil {
			tb.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "TILLBOX_TX",
			Subjects:  []string{"$MQTT.msgs.tillbox.v1.*.*.tx", "tillbox.v1.*.*.tx"},
			Retention: jetstream.WorkQueuePolicy, Storage: jetstream.MemoryStorage, Replicas: 3,
			MaxBytes: -1, Discard: jetstream.DiscardNew}); err != nil {
			tb.Fatalf("the tx stream in memory: %v", err)
		}
	}
	return cl
}
