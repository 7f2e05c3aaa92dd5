package rig

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// NATSPath is where nats-server is looked for after PATH (Debian's nats-server package).
const NATSPath = "/usr/sbin/nats-server"

// NATSNode is one server of a NATSCluster.
type NATSNode struct {
	Name string
	// Client is the NATS client address, MQTT the MQTT 3.1.1 listener's, Route the
	// cluster route's; all on 127.0.0.1.
	Client, MQTT, Route string
	// Conf is the node's configuration file; its JetStream store is beside it.
	Conf string
	proc *Proc
	t    testing.TB
}

// NATSCluster is a cluster of nats-server nodes on loopback, each with JetStream (its own
// store directory) and MQTT on, routed to every other node.
type NATSCluster struct {
	Nodes []*NATSNode
	t     testing.TB
}

// StartNATSCluster starts n nodes (3 for replicas of 3) in a temp dir and waits until the
// cluster's JetStream answers on every node. The test is skipped when nats-server is not
// installed (scripts/deps.sh installs it). extra lines are appended to every node's
// configuration.
func StartNATSCluster(t testing.TB, n int, extra ...string) *NATSCluster {
	t.Helper()
	bin, err := exec.LookPath("nats-server")
	if err != nil {
		bin = NATSPath
	}
	if _, err := os.Stat(bin); err != nil {
		t.Skip("rig: nats-server not installed (run scripts/deps.sh)")
	}
	dir := t.TempDir()
	c := &NATSCluster{t: t}
	for i := range n {
		c.Nodes = append(c.Nodes, &NATSNode{Name: fmt.Sprintf("n%d", i+1), t: t,
			Client: fmt.Sprintf("127.0.0.1:%d", FreePort(t)), MQTT: fmt.Sprintf("127.0.0.1:%d", FreePort(t)),
			Route: fmt.Sprintf("127.0.0.1:%d", FreePort(t))})
	}
	var routes []string
	for _, nd := range c.Nodes {
		routes = append(routes, "nats-route://"+nd.Route)
	}
	for _, nd := range c.Nodes {
		nd.Conf = filepath.Join(dir, nd.Name+".conf")
		conf := []string{
			"server_name: " + nd.Name,
			"listen: " + nd.Client,
			fmt.Sprintf("jetstream { store_dir: %q, max_memory_store: 64MB, max_file_store: 2GB }", filepath.Join(dir, nd.Name+"-js")),
			fmt.Sprintf("cluster { name: tillbox, listen: %s, routes: [%s] }", nd.Route, strings.Join(routes, ", ")),
			fmt.Sprintf("mqtt { listen: %s }", nd.MQTT),
			"max_payload: 8MB",
		}
		conf = append(conf, extra...)
		if err := os.WriteFile(nd.Conf, []byte(strings.Join(conf, "\n")+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		nd.proc = StartProc(t, "nats-"+nd.Name, dir, exec.Command(bin, "-c", nd.Conf))
	}
	for _, nd := range c.Nodes {
		nd.waitUp()
	}
	c.WaitJetStream(60 * time.Second)
	return c
}

func (nd *NATSNode) waitUp() {
	nd.t.Helper()
	for _, a := range []string{nd.Client, nd.MQTT} {
		if err := WaitListening(a, 15*time.Second); err != nil {
			nd.t.Fatalf("%v\n%s", err, Tail(nd.proc.Log, 20))
		}
	}
}

// WaitJetStream waits, at most d, until every running node answers a JetStream account
// request (the cluster has a meta leader).
func (c *NATSCluster) WaitJetStream(d time.Duration) {
	c.t.Helper()
	deadline := time.Now().Add(d)
	for _, nd := range c.Nodes {
		if nd.proc.Exited() {
			continue
		}
		for {
			err := jsReady(nd.Client)
			if err == nil {
				break
			}
			if time.Now().After(deadline) {
				c.t.Fatalf("rig: nats %s: JetStream not ready after %s: %v\n%s", nd.Name, d, err, Tail(nd.proc.Log, 20))
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
}

func jsReady(addr string) error {
	nc, err := nats.Connect("nats://"+addr, nats.Timeout(2*time.Second), nats.NoReconnect())
	if err != nil {
		return err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_, err = js.AccountInfo(ctx)
	return err
}

// NATSURLs is every node's client URL, comma-separated, as nats.Connect takes them.
func (c *NATSCluster) NATSURLs() string {
	var u []string
	for _, nd := range c.Nodes {
		u = append(u, "nats://"+nd.Client)
	}
	return strings.Join(u, ",")
}

// MQTTURLs is every node's MQTT URL, starting with node first (modulo the cluster's
// size), comma-separated, as a till's or tillhq's --broker takes them.
func (c *NATSCluster) MQTTURLs(first int) string {
	var u []string
	for i := range c.Nodes {
		u = append(u, c.Nodes[(first+i)%len(c.Nodes)].MQTTURL())
	}
	return strings.Join(u, ",")
}

// MQTTURL is the node's MQTT client URL.
func (nd *NATSNode) MQTTURL() string { return "tcp://" + nd.MQTT }

// Kill stops the node with SIGKILL (kill -9: what JetStream had not synced is the
// replicas' to restore).
func (nd *NATSNode) Kill() { nd.proc.Kill() }

// Restart starts the node again with the same configuration and store and waits until it
// listens.
func (nd *NATSNode) Restart() {
	nd.t.Helper()
	nd.proc.Restart()
	nd.waitUp()
}

// Log is the node's log file.
func (nd *NATSNode) Log() string { return nd.proc.Log }
