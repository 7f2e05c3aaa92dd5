package rig

import (
	"cmp"
	"context"
	"crypto/tls"
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
	// cluster route's, HTTP the monitoring port's (when the configuration has one); all
	// on 127.0.0.1.
	Client, MQTT, Route, HTTP string
	// Conf is the node's configuration file; its JetStream store is beside it.
	Conf string
	proc *Proc
	t    testing.TB
	tls  *tls.Config
}

// NATSCluster is a cluster of nats-server nodes on loopback, each with JetStream (its own
// store directory) and MQTT on, routed to every other node.
type NATSCluster struct {
	Nodes []*NATSNode
	t     testing.TB
	tls   *tls.Config
}

// StartNATSCluster starts n nodes (3 for replicas of 3) in a temp dir and waits until the
// cluster's JetStream answers on every node. The test is skipped when nats-server is not
// installed (scripts/deps.sh installs it). extra lines are appended to every node's
// configuration.
func StartNATSCluster(t testing.TB, n int, extra ...string) *NATSCluster {
	t.Helper()
	return StartNATSClusterWith(t, n, &NATSOptions{Extra: extra})
}

// NATSOptions shape a NATSCluster's configuration.
type NATSOptions struct {
	// Template, when set, is every node's whole configuration (the shipped
	// scripts/nats/tillbox.conf, its addresses and paths replaced by the test) with these
	// placeholders, replaced per node: {{NAME}} the node's name, {{CLIENT}} {{ROUTE}}
	// {{MQTT}} {{HTTP}} its listen addresses (host:port), {{ROUTES}} every node's route
	// URL, comma-separated, {{STORE}} its JetStream directory, {{DIR}} the directory the
	// configurations are written to (put certificates and users.conf there first: see
	// Dir). Without it, the rig's own minimal configuration (no TLS, no users) is used.
	Template string
	// Dir is where the configurations and stores are written. Default a temp dir.
	Dir string
	// TLS, when set, is the client configuration (CA and a client certificate the
	// template's users know) the rig uses for its own readiness checks on the NATS port;
	// MQTTURL and NATSURLs then name tls:// and ssl:// URLs.
	TLS *tls.Config
	// MQTT lines are added to the mqtt block of the rig's own configuration (not to a
	// Template's): the MQTT side's settings a test or benchmark runs with.
	MQTT []string
	// MaxMemory is each node's max_memory_store in the rig's own configuration (the
	// memory its streams may take). Default "64MB".
	MaxMemory string
	// Extra lines appended to every node's configuration.
	Extra []string
}

// StartNATSClusterWith starts n nodes configured by o (see StartNATSCluster).
func StartNATSClusterWith(t testing.TB, n int, o *NATSOptions) *NATSCluster {
	t.Helper()
	if o == nil {
		o = &NATSOptions{}
	}
	bin, err := exec.LookPath("nats-server")
	if err != nil {
		bin = NATSPath
	}
	if _, err := os.Stat(bin); err != nil {
		t.Skip("rig: nats-server not installed (run scripts/deps.sh)")
	}
	dir := o.Dir
	if dir == "" {
		dir = t.TempDir()
	}
	// A port the rig picked free can be taken before the node binds it (by any process's
	// outgoing connection, whose local port comes from the same range): the cluster is then
	// started again on new ports, at most three times.
	for attempt := 1; ; attempt++ {
		c, err := startNATSNodes(t, bin, dir, n, o)
		if err == nil {
			c.WaitJetStream(60 * time.Second)
			return c
		}
		if attempt < 3 && c.portTaken() {
			for _, nd := range c.Nodes {
				nd.proc.Kill()
				os.RemoveAll(filepath.Join(dir, nd.Name+"-js"))
				os.Remove(nd.proc.Log)
			}
			continue
		}
		t.Fatal(err)
	}
}

// startNATSNodes writes each node's configuration on newly picked ports, starts the nodes
// and waits until each listens.
func startNATSNodes(t testing.TB, bin, dir string, n int, o *NATSOptions) (*NATSCluster, error) {
	t.Helper()
	c := &NATSCluster{t: t, tls: o.TLS}
	for i := range n {
		c.Nodes = append(c.Nodes, &NATSNode{Name: fmt.Sprintf("n%d", i+1), t: t, tls: o.TLS,
			Client: fmt.Sprintf("127.0.0.1:%d", FreePort(t)), MQTT: fmt.Sprintf("127.0.0.1:%d", FreePort(t)),
			Route: fmt.Sprintf("127.0.0.1:%d", FreePort(t)), HTTP: fmt.Sprintf("127.0.0.1:%d", FreePort(t))})
	}
	var routes []string
	for _, nd := range c.Nodes {
		routes = append(routes, "nats-route://"+nd.Route)
	}
	for _, nd := range c.Nodes {
		nd.Conf = filepath.Join(dir, nd.Name+".conf")
		store := filepath.Join(dir, nd.Name+"-js")
		var text string
		if o.Template != "" {
			text = strings.NewReplacer("{{NAME}}", nd.Name, "{{CLIENT}}", nd.Client, "{{ROUTE}}", nd.Route, "{{MQTT}}", nd.MQTT,
				"{{HTTP}}", nd.HTTP, "{{ROUTES}}", strings.Join(routes, ", "), "{{STORE}}", store, "{{DIR}}", dir).Replace(o.Template)
		} else {
			text = strings.Join([]string{
				"server_name: " + nd.Name,
				"listen: " + nd.Client,
				fmt.Sprintf("jetstream { store_dir: %q, max_memory_store: %s, max_file_store: 2GB }", store, cmp.Or(o.MaxMemory, "64MB")),
				fmt.Sprintf("cluster { name: tillbox, listen: %s, routes: [%s] }", nd.Route, strings.Join(routes, ", ")),
				fmt.Sprintf("mqtt { listen: %s\n%s\n}", nd.MQTT, strings.Join(o.MQTT, "\n")),
				"max_payload: 8MB",
			}, "\n")
		}
		text += "\n" + strings.Join(o.Extra, "\n") + "\n"
		if os.Getenv("TILLBOX_NATS_PROF") == "1" {
			// Go's profiles of each node, for `go tool pprof http://ADDR/debug/pprof/profile`.
			port := FreePort(t)
			text += fmt.Sprintf("prof_port: %d\n", port)
			fmt.Fprintf(os.Stderr, "rig: nats %s: profiles on 127.0.0.1:%d\n", nd.Name, port)
		}
		if err := os.WriteFile(nd.Conf, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		nd.proc = StartProc(t, "nats-"+nd.Name, dir, exec.Command(bin, "-c", nd.Conf))
	}
	for _, nd := range c.Nodes {
		if err := nd.listening(); err != nil {
			return c, err
		}
	}
	return c, nil
}

// portTaken says whether a node of c could not bind one of its ports.
func (c *NATSCluster) portTaken() bool {
	for _, nd := range c.Nodes {
		if b, err := os.ReadFile(nd.proc.Log); err == nil && strings.Contains(string(b), "address already in use") {
			return true
		}
	}
	return false
}

func (nd *NATSNode) waitUp() {
	nd.t.Helper()
	if err := nd.listening(); err != nil {
		nd.t.Fatal(err)
	}
}

// listening waits until the node listens on its client and MQTT ports, at most 15 s each.
func (nd *NATSNode) listening() error {
	for _, a := range []string{nd.Client, nd.MQTT} {
		if err := WaitListening(a, 15*time.Second); err != nil {
			return fmt.Errorf("%v\n%s", err, Tail(nd.proc.Log, 20))
		}
	}
	return nil
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
			err := jsReady(nd.Client, c.tls)
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

func jsReady(addr string, cfg *tls.Config) error {
	opts := []nats.Option{nats.Timeout(2 * time.Second), nats.NoReconnect()}
	scheme := "nats://"
	if cfg != nil {
		opts, scheme = append(opts, nats.Secure(cfg)), "tls://"
	}
	nc, err := nats.Connect(scheme+addr, opts...)
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
	scheme := "nats://"
	if c.tls != nil {
		scheme = "tls://"
	}
	for _, nd := range c.Nodes {
		u = append(u, scheme+nd.Client)
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

// MQTTURL is the node's MQTT client URL (ssl:// when the cluster has TLS).
func (nd *NATSNode) MQTTURL() string {
	if nd.tls != nil {
		return "ssl://" + nd.MQTT
	}
	return "tcp://" + nd.MQTT
}

// Kill stops the node with SIGKILL (kill -9: what JetStream had not synced is the
// replicas' to restore).
func (nd *NATSNode) Kill() { nd.proc.Kill() }

// Restart starts the node again with the same configuration and store and waits until it
// listens. A node that exits before it listens is started again, at most twice more, as
// the supervisor of a production node would: nats-server 2.9.10 can panic (a nil pointer
// in processClusterCreateStream) while a node killed with -9 applies the cluster's stream
// assignments on rejoining, and starts cleanly the next time. Each such crash is logged.
func (nd *NATSNode) Restart() {
	nd.t.Helper()
	for attempt := 1; ; attempt++ {
		nd.proc.Restart()
		err := nd.listening()
		if err == nil {
			return
		}
		if !nd.proc.Exited() || attempt == 3 {
			nd.t.Fatal(err)
		}
		nd.t.Logf("rig: %s exited while restarting (attempt %d), starting it again: %v", nd.Name, attempt, err)
	}
}

// Log is the node's log file.
func (nd *NATSNode) Log() string { return nd.proc.Log }

// MQTTSettings are the "key: value" lines of the mqtt block of the NATS configuration at
// path (the shipped scripts/nats/tillbox.conf) but its listen address and its TLS block:
// what NATSOptions.MQTT takes to run the rig's cluster with the shipped MQTT settings.
func MQTTSettings(tb testing.TB, path string) []string {
	tb.Helper()
	b, err := os.ReadFile(path)
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
		tb.Fatalf("rig: %s: no mqtt settings found", path)
	}
	return out
}
