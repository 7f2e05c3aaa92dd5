package uplink_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"tillbox/uplink"
	"tillbox/uplink/hq"
	"tillbox/uplink/identity"
	"tillbox/uplink/rig"
	"tillbox/uplink/wire"
)

// natsFleet is a fleet's security set-up on a 3-node NATS cluster run from the shipped
// configuration (scripts/nats/tillbox.conf, addresses and paths rewritten): the fleet CA,
// provisioned tills with their device keys registered, HQ's account, a server certificate
// for the nodes, and users.conf written by scripts/nats/users.sh.
type natsFleet struct {
	*fleetRig
	cl *rig.NATSCluster
}

func newNATSFleet(t *testing.T, tills ...string) *natsFleet {
	t.Helper()
	now := time.Now()
	r := &fleetRig{t: t, dir: t.TempDir(), keys: &hq.KeyDir{Dir: t.TempDir()}, tills: map[string]*identity.Identity{}}
	ca, err := identity.InitCA(filepath.Join(t.TempDir(), "ca"), "test fleet CA", now)
	if err != nil {
		t.Fatal(err)
	}
	r.ca = ca
	var ids []string
	for _, till := range tills {
		r.tills[till] = r.provision(till, true)
		ids = append(ids, "s042/"+till)
	}
	// One certificate for every node: a server's for the clients, and the routes' both ways.
	cert, key, err := ca.IssueClusterNode([]string{"127.0.0.1"}, now)
	if err != nil {
		t.Fatal(err)
	}
	r.write("server.crt", cert)
	r.write("server.key", key)
	r.write("ca.crt", ca.CertPEM())
	r.hqTLS = r.account("tillhq")
	users, err := exec.Command("../scripts/nats/users.sh", ids...).Output()
	if err != nil {
		t.Fatalf("users.sh: %v", err)
	}
	r.write("users.conf", users)
	return &natsFleet{fleetRig: r, cl: rig.StartNATSClusterWith(t, 3, &rig.NATSOptions{Template: shippedNATSConf(t), Dir: r.dir, TLS: r.hqTLS})}
}

// shippedNATSConf is scripts/nats/tillbox.conf with the rig's placeholders for what differs
// on loopback: the node's name and addresses, the routes, the store and the files' directory.
func shippedNATSConf(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("../scripts/nats/tillbox.conf")
	if err != nil {
		t.Fatal(err)
	}
	text := strings.NewReplacer("server_name: $TILLBOX_NATS_NODE", "server_name: {{NAME}}",
		"listen: 0.0.0.0:4222", "listen: {{CLIENT}}", "listen: 0.0.0.0:6222", "listen: {{ROUTE}}",
		"listen: 0.0.0.0:8883", "listen: {{MQTT}}", "http: 127.0.0.1:8222", "http: {{HTTP}}",
		"/var/lib/nats/jetstream", "{{STORE}}", "/etc/nats/tillbox/", "{{DIR}}/").Replace(string(b))
	routes := regexp.MustCompile(`(?s)routes: \[[^\]]*\]`)
	if !routes.MatchString(text) {
		t.Fatal("the shipped NATS configuration no longer has the routes this test rewrites")
	}
	text = routes.ReplaceAllString(text, "routes: [{{ROUTES}}]")
	for _, p := range []string{"{{NAME}}", "{{CLIENT}}", "{{ROUTE}}", "{{MQTT}}", "{{HTTP}}", "{{STORE}}", "{{DIR}}"} {
		if !strings.Contains(text, p) {
			t.Fatalf("the shipped NATS configuration no longer has what this test rewrites to %s", p)
		}
	}
	if strings.Contains(text, "/etc/nats") || strings.Contains(text, "0.0.0.0") {
		t.Fatal("the shipped NATS configuration has a path or address this test does not rewrite")
	}
	return text
}

// node is node i's MQTT URL.
// hqOptions are HQ's options on the cluster: MQTT on node 0, signed, with short waits.
func (f *natsFleet) hqOptions() hq.Options {
	return hq.Options{Broker: f.cl.MQTTURLs(0), TLS: f.hqTLS, Keys: f.keys, SignKey: f.ca.SigningKey(), ClientID: "tillhq-js",
		WaitTimeout: 5 * time.Second, BackoffMin: 50 * time.Millisecond, BackoffMax: 400 * time.Millisecond}
}

// runHQ starts HQ's JetStream consumer on st with ho, reading the stream on every node;
// stop ends it and waits for it.
func (f *natsFleet) runHQ(t *testing.T, st hq.Store, ho hq.Options) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	js, err := hq.NewJetStreamConsumer(st, &ho, hq.JetStream{URLs: f.cl.NATSURLs(), AckWait: 5 * time.Second})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { defer close(done); js.Run(ctx) }()
	return func() { cancel(); <-done }
}

func (f *natsFleet) node(i int) string { return f.cl.Nodes[i].MQTTURL() }

// dialNode connects a plain MQTT client to node i with cfg's certificate.
func (f *natsFleet) dialNode(i int, id string, cfg *tls.Config) *rawClient {
	f.t.Helper()
	cli := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(f.node(i)).SetClientID(id).SetTLSConfig(cfg).
		SetOrderMatters(true).SetAutoReconnect(false).SetConnectTimeout(5 * time.Second))
	if tok := cli.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		f.t.Fatalf("%s: connect to %s: %v", id, f.node(i), tok.Error())
	}
	f.t.Cleanup(func() { cli.Disconnect(100) })
	return &rawClient{t: f.t, cli: cli}
}

// TestNATSClusterPermissionsConfineEachTill runs a till and HQ's JetStream consumer on a
// 3-node cluster with the shipped TLS configuration and users.sh's users: the till syncs
// (its tx and status out, its acks in), reads HQ's commands and desired firmware, and
// renews its certificate over the cluster; then another till's certificate tries everything
// it must not do, and the permissions are checked topic for topic against the Mosquitto ACL.
func TestNATSClusterPermissionsConfineEachTill(t *testing.T) {
	f := newNATSFleet(t, "t01", "t02")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	st := boltHQ(t)
	ho := f.hqOptions()
	t.Cleanup(f.runHQ(t, st, ho))
	// The streams laid out first: a till connecting meanwhile may find NATS still making
	// them, lose its connection and journal the outage.
	waitTxStream(t, f)

	// t01 on node 2: its entries reach HQ (reading node 1) and its acks come back.
	l := signedLedger(t, f.tills["t01"], "t01")
	o := fastOptions(f.cl.MQTTURLs(1))
	o.TLS, o.HQKey, o.TxQoS0 = f.tills["t01"].TLS, f.tills["t01"].HQKey, true
	c, _ := runTill(t, l, o)
	appendSales(t, l, c, 30)
	waitSynced(t, l, c)
	assertAllAtHQ(t, l, st)

	tp := wire.Topics{}
	hqObs := f.dialNode(0, "hq-observer", f.hqTLS)
	// NATS checks a subscription against the permissions as a whole: HQ subscribes to
	// each of t01's outgoing topics, not to a wildcard over them.
	var hqSees []func() [][]byte
	for _, k := range []wire.Kind{wire.KindTx, wire.KindStatus, wire.KindEvent, wire.KindCmdResult, identity.RenewTopicKind} {
		hqSees = append(hqSees, hqObs.collect(tp.Till("s042", "t01", k)))
	}
	hqSaw := func() (all [][]byte) {
		for _, f := range hqSees {
			all = append(all, f()...)
		}
		return all
	}
	t02Status := hqObs.collect(tp.Status("s042", "t02"))
	t01Obs := f.dialNode(2, "t01-observer", f.tills["t01"].TLS)
	t01Acks := t01Obs.collect(tp.Ack("s042", "t01"))
	t01Cmds := t01Obs.collect(tp.Cmd("s042", "t01"))
	t01Desired := t01Obs.collect(tp.Desired("s042", "t01"))
	t01Cert := t01Obs.collect(tp.Till("s042", "t01", identity.CertTopicKind))
	t01Cat := t01Obs.collect(tp.Catalog("s042"))
	waitFor(t, 30*time.Second, "t01's retained status at HQ", func() bool { return len(hqSaw()) > 0 })
	waitFor(t, 30*time.Second, "t01's retained ack at t01", func() bool { return len(t01Acks()) > 0 })
	hqBefore, acksBefore := len(hqSaw()), len(t01Acks())

	// t02, with its own valid certificate, speaks for t01 and for HQ, and listens to t01.
	evil := f.dialNode(1, "s042-t02-evil", f.tills["t02"].TLS)
	stolen := map[string]func() [][]byte{}
	for _, k := range []wire.Kind{wire.KindAck, wire.KindCmd, wire.KindDesired, identity.CertTopicKind, wire.KindTx, wire.KindStatus} {
		stolen[string(k)] = evil.collect(tp.Till("s042", "t01", k))
	}
	req, _ := f.tills["t02"].RenewalRequest(time.Now())
	forgeries := []struct {
		topic    string
		retained bool
		payload  []byte
	}{
		{tp.Tx("s042", "t01"), false, forged(t, "t01", 31)},
		{tp.Status("s042", "t01"), true, wire.LostWill()},
		{tp.Event("s042", "t01"), false, []byte(`{"v":1,"kind":"paper-out","at":"2026-01-01T00:00:00Z"}`)},
		{tp.CmdResult("s042", "t01"), false, []byte(`{"v":1,"id":"x","ok":true}`)},
		{tp.Till("s042", "t01", identity.RenewTopicKind), false, req},
		{tp.Ack("s042", "t01"), true, wire.EncodeAck(999)},
		{tp.Cmd("s042", "t01"), false, []byte(`{"v":1,"id":"x","name":"sync-now"}`)},
		{tp.Desired("s042", "t01"), true, []byte(`{"v":1,"version":"6.6.6"}`)},
		{tp.Till("s042", "t01", identity.CertTopicKind), true, []byte(`{"v":1}`)},
		{tp.Catalog("s042"), true, []byte(`{"v":1,"store":"s042","version":99,"currency":"PLN","taxes":[],"items":[],"cashiers":[]}`)},
	}
	for _, fg := range forgeries {
		evil.pub(fg.topic, fg.retained, fg.payload)
	}
	// Its own status goes through: the marker that the broker has processed the above.
	evil.pub(tp.Status("s042", "t02"), true, []byte(`{"v":1,"state":"online","backlog":0}`))
	waitFor(t, 30*time.Second, "t02's own status at HQ", func() bool { return len(t02Status()) > 0 })

	// HQ's command and desired firmware reach t01.
	hqPub := f.dialNode(1, "hq-marker", f.hqTLS)
	signed := wire.Cmd{ID: "marker", Name: wire.CmdStatus}
	if err := wire.SignCmd(f.ca.SigningKey(), &signed, "s042", "t01", time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	p, _ := wire.EncodeCmd(signed)
	hqPub.pub(tp.Cmd("s042", "t01"), false, p)
	hqPub.pub(tp.Desired("s042", "t01"), true, []byte(`{"v":1,"marker":"desired"}`))
	hqPub.pub(tp.Ack("s042", "t01"), true, wire.SignAck(f.ca.SigningKey(), "s042", "t01", 30))
	waitFor(t, 30*time.Second, "HQ's command at t01", func() bool { return len(t01Cmds()) > 0 })
	waitFor(t, 30*time.Second, "HQ's desired firmware at t01", func() bool { return len(t01Desired()) > 0 })
	waitFor(t, 30*time.Second, "HQ's marker ack at t01", func() bool { return len(t01Acks()) > acksBefore })

	for _, m := range hqSaw()[hqBefore:] {
		for _, fg := range forgeries {
			if bytes.Equal(m, fg.payload) {
				t.Errorf("HQ received what t02 published on %s: %s", fg.topic, m)
			}
		}
	}
	for _, a := range t01Acks() {
		if through, _ := wire.DecodeAck(a); through == 999 {
			t.Error("t02's forged ack reached t01")
		}
	}
	if cmds := t01Cmds(); len(cmds) != 1 || !bytes.Contains(cmds[0], []byte(`"marker"`)) {
		t.Errorf("t01 received commands %q, want only HQ's", cmds)
	}
	if d := t01Desired(); len(d) != 1 || !bytes.Contains(d[0], []byte(`"marker"`)) {
		t.Errorf("t01 received desired firmware %q, want only HQ's", d)
	}
	if got := t01Cert(); len(got) != 0 {
		t.Errorf("t01 received certificates %q, want none (only HQ may publish one)", got)
	}
	if cats := t01Cat(); len(cats) != 0 {
		t.Errorf("t01 received catalogs %q, want none (only HQ may publish one)", cats)
	}
	for k, got := range stolen {
		if n := len(got()); n != 0 {
			t.Errorf("t02 read %d messages of t01's %s topic", n, k)
		}
	}
	if w, _ := l.Watermark(); w != 30 {
		t.Errorf("t01's watermark %d after the forgeries, want 30", w)
	}

	// A till's certificate opens no NATS session (where $MQTT.sub.> would let it read
	// every till's deliveries): only MQTT.
	if nc, err := nats.Connect(f.cl.NATSURLs(), nats.Secure(f.tills["t02"].TLS), nats.NoReconnect(), nats.Timeout(5*time.Second)); err == nil {
		nc.Close()
		t.Error("t02's certificate opened a NATS session on the client port")
	} else if !strings.Contains(strings.ToLower(err.Error()), "authorization") {
		t.Errorf("t02's certificate on the client port: %v, want an authorization violation", err)
	}

	// The renewal: HQ's CA answers on node 3, t01 asks on node 1.
	f.ca.RenewAfter = -1 // the tills were certified a moment ago
	issued := make(chan *x509.Certificate, 4)
	ready := make(chan struct{})
	ro := ho
	ro.Broker, ro.ClientID = f.node(2), "tillhq-renewals"
	go hq.ServeRenewals(ctx, ro, f.ca, func(_ hq.TillKey, c *x509.Certificate) { issued <- c }, ready)
	select {
	case <-ready:
	case <-time.After(20 * time.Second):
		t.Fatal("renewals never subscribed")
	}
	ren := *o
	ren.Broker = f.node(0)
	rctx, rcancel := context.WithTimeout(ctx, 30*time.Second)
	defer rcancel()
	cert, err := uplink.RenewCertificate(rctx, ren, f.tills["t01"], "s042", "t01")
	if err != nil {
		t.Fatalf("renewal over the cluster: %v", err)
	}
	select {
	case got := <-issued:
		if got.SerialNumber.Cmp(cert.SerialNumber) != 0 {
			t.Errorf("HQ issued %s, the till installed %s", got.SerialNumber.Text(16), cert.SerialNumber.Text(16))
		}
	case <-time.After(5 * time.Second):
		t.Error("HQ did not report the certificate it issued")
	}
	if n := len(stolen[string(identity.CertTopicKind)]()); n != 0 {
		t.Errorf("t02 read t01's renewed certificate (%d messages)", n)
	}
	select {
	case got := <-issued:
		t.Errorf("HQ issued a certificate for %s on t02's request under t01's topic", got.Subject.CommonName)
	default:
	}
	// The renewed certificate maps to the same user: the till reconnects with it and syncs.
	id, err := identity.Load(f.tills["t01"].Dir)
	if err != nil {
		t.Fatal(err)
	}
	f.dialNode(1, "s042-t01-renewed", id.TLS)
	appendSales(t, l, c, 5)
	waitSynced(t, l, c)
	assertAllAtHQ(t, l, st)
}

// TestNATSUsersMatchMosquittoACL: users.sh gives each till, HQ and the fleet viewers the
// topics of scripts/mosquitto/acl, no more and no fewer, beside the subjects NATS itself
// needs for QoS 1 delivery and JetStream.
func TestNATSUsersMatchMosquittoACL(t *testing.T) {
	acl, err := os.ReadFile("../scripts/mosquitto/acl")
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("../scripts/nats/users.sh", "s042/t01").Output()
	if err != nil {
		t.Fatalf("users.sh: %v", err)
	}
	subject := func(topic string) string {
		topic = strings.ReplaceAll(topic, "%u", "s042/t01")
		return strings.NewReplacer("/", ".", "+", "*", "#", ">").Replace(topic)
	}
	// From the ACL: user -> "publish"/"subscribe" -> subjects.
	want := map[string]map[string][]string{}
	add := func(user, dir, subj string) {
		if want[user] == nil {
			want[user] = map[string][]string{}
		}
		want[user][dir] = append(want[user][dir], subj)
	}
	user := ""
	for _, line := range strings.Split(string(acl), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 || strings.HasPrefix(f[0], "#") {
			continue
		}
		dir := map[string]string{"read": "subscribe", "write": "publish"}
		switch {
		case f[0] == "user":
			user = f[1]
		case f[0] == "pattern" && len(f) == 3:
			add("s042/t01", dir[f[1]], subject(f[2]))
		case f[0] == "topic" && len(f) == 3 && user != "":
			add(user, dir[f[1]], subject(f[2]))
		default:
			t.Fatalf("ACL line this test does not know: %q", line)
		}
	}
	// tillhq acl appends each till's store catalog; users.sh writes it in the till's user.
	add("s042/t01", "subscribe", "tillbox.v1.s042.catalog")
	natsOnly := map[string]map[string][]string{
		"tillhq":   {"publish": {"$JS.API.>", "$JS.ACK.TILLBOX_TX.>"}, "subscribe": {"$MQTT.sub.>", "_INBOX.>"}},
		"fleet":    {"subscribe": {"$MQTT.sub.>"}},
		"s042/t01": {"subscribe": {"$MQTT.sub.>"}},
	}
	userRe := regexp.MustCompile(`(?s)\{ user: "CN=([^,]+),O=tillbox",[^{]*\{\s*publish:\s*\[([^\]]*)\]\s*subscribe:\s*\[([^\]]*)\]`)
	quoted := regexp.MustCompile(`"([^"]*)"`)
	list := func(s string) []string {
		var l []string
		for _, m := range quoted.FindAllStringSubmatch(s, -1) {
			l = append(l, m[1])
		}
		slices.Sort(l)
		return l
	}
	got := map[string]bool{}
	for _, m := range userRe.FindAllStringSubmatch(string(out), -1) {
		u := m[1]
		got[u] = true
		w := want[u]
		for dir, have := range map[string][]string{"publish": list(m[2]), "subscribe": list(m[3])} {
			exp := append(slices.Clone(w[dir]), natsOnly[u][dir]...)
			slices.Sort(exp)
			if !slices.Equal(have, exp) {
				t.Errorf("%s %s: users.sh %q, the ACL %q", u, dir, have, exp)
			}
		}
	}
	for u := range want {
		if !got[u] {
			t.Errorf("users.sh has no user for the ACL's %s", u)
		}
	}
}

// TestNATSClusterRetainedAckReachesTillThatWasOffline: a till subscribes with QoS 0 (no
// JetStream consumer keeps anything for it on the cluster while it is away), so what it
// must find when it comes back is HQ's retained ack, replicated to every node. t01
// publishes its backlog through node 1 while no HQ runs and goes offline unacknowledged;
// HQ, on node 0, then stores the entries, publishes the ack and stops; t01 comes back on
// node 2 with no HQ running anywhere, where only the retained ack can move its watermark:
// it reaches the last seq.
func TestNATSClusterRetainedAckReachesTillThatWasOffline(t *testing.T) {
	f := newNATSFleet(t, "t01")
	st := boltHQ(t)
	nc, err := nats.Connect(f.cl.NATSURLs(), nats.Secure(f.hqTLS), nats.Timeout(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	inStream := func() uint64 {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		s, err := js.Stream(ctx, "TILLBOX_TX")
		if err != nil {
			return 0
		}
		info, err := s.Info(ctx)
		if err != nil {
			return 0
		}
		return info.State.Msgs
	}
	// HQ's first session lays the streams out; then no HQ runs.
	stop := f.runHQ(t, st, f.hqOptions())
	waitTxStream(t, f)
	stop()

	const n = 40
	l := signedLedger(t, f.tills["t01"], "t01")
	appendSales(t, l, nil, n)
	o := fastOptions(f.cl.MQTTURLs(1))
	o.TLS, o.HQKey, o.TxQoS0 = f.tills["t01"].TLS, f.tills["t01"].HQKey, true
	_, stopTill := runTill(t, l, o)
	waitFor(t, 60*time.Second, "t01's backlog in the tx stream", func() bool { return inStream() >= n })
	stopTill()
	if w, _ := l.Watermark(); w != 0 {
		t.Fatalf("t01's watermark %d with no HQ running, want 0", w)
	}

	// HQ stores them and acknowledges to a till that is not there.
	k := hq.TillKey{Store: "s042", Till: "t01"}
	stop = f.runHQ(t, st, f.hqOptions())
	waitFor(t, 60*time.Second, "t01's entries at HQ", func() bool {
		th, err := st.Through(context.Background(), k)
		return err == nil && th == n
	})
	obs := f.dialNode(2, "t01-observer", f.tills["t01"].TLS)
	acks := obs.collect(wire.Topics{}.Ack("s042", "t01"))
	waitFor(t, 30*time.Second, "the retained ack of entry 40 on node 2", func() bool {
		for _, a := range acks() {
			if through, _ := wire.DecodeAck(a); through == n {
				return true
			}
		}
		return false
	})
	stop()

	c, _ := runTill(t, l, &uplink.Options{Broker: f.cl.MQTTURLs(2), TLS: o.TLS, HQKey: o.HQKey, BackoffMin: o.BackoffMin,
		BackoffMax: o.BackoffMax, WaitTimeout: o.WaitTimeout, PollInterval: o.PollInterval, KeepAlive: o.KeepAlive,
		OfflineAfter: o.OfflineAfter, StatusInterval: o.StatusInterval, ResendAfter: time.Hour, TxQoS0: true})
	waitFor(t, 60*time.Second, "t01's watermark at its last seq from the retained ack", func() bool {
		w, _ := l.Watermark()
		return w == n
	})
	if r := c.State().Resends; r != 0 {
		t.Errorf("t01 resent %d times, want 0", r)
	}
	assertAllAtHQ(t, l, st)
}

// waitTxStream waits until HQ's JetStream consumer has laid out the cluster's streams
// (the tx stream is the last it makes).
func waitTxStream(t *testing.T, f *natsFleet) {
	t.Helper()
	nc, err := nats.Connect(f.cl.NATSURLs(), nats.Secure(f.hqTLS), nats.Timeout(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, 60*time.Second, "the tx stream", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_, err := js.Stream(ctx, "TILLBOX_TX")
		return err == nil
	})
}

// TestNATSClusterTxQoS0TillProbesWithQoS0: a till set for the cluster (TxQoS0) sends its
// probes as it sends its entries, with QoS 0. NATS stores a QoS 1 publish by a request the
// till's connection waits on and closes the connection when it takes over 4 s, after which
// the till sends everything above its watermark again; and it puts a QoS 1 tx into the tx
// stream twice, once on its plain subject and once on the MQTT store's ($MQTT.msgs.…).
// With no HQ running the till probes again and again: every copy the stream holds is on
// the plain subject.
func TestNATSClusterTxQoS0TillProbesWithQoS0(t *testing.T) {
	f := newNATSFleet(t, "t01")
	stop := f.runHQ(t, boltHQ(t), f.hqOptions())
	waitTxStream(t, f)
	stop()

	const n = 5
	l := signedLedger(t, f.tills["t01"], "t01")
	appendSales(t, l, nil, n)
	o := fastOptions(f.cl.MQTTURLs(1))
	o.TLS, o.HQKey, o.TxQoS0, o.ResendAfter = f.tills["t01"].TLS, f.tills["t01"].HQKey, true, 300*time.Millisecond
	c, _ := runTill(t, l, o)
	waitFor(t, 60*time.Second, "three probes", func() bool { return c.State().Probes >= 3 })

	nc, err := nats.Connect(f.cl.NATSURLs(), nats.Secure(f.hqTLS), nats.Timeout(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := js.Stream(ctx, "TILLBOX_TX")
	if err != nil {
		t.Fatal(err)
	}
	// At a watermark of 0 each probe carries two entries (the first and the last): the
	// entries and two probes at least.
	var info *jetstream.StreamInfo
	waitFor(t, 30*time.Second, "the entries and two probes in the tx stream", func() bool {
		info, err = s.Info(ctx)
		return err == nil && info.State.Msgs >= n+4
	})
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq; seq++ {
		m, err := s.GetMsg(ctx, seq)
		if err != nil {
			t.Fatalf("stream seq %d: %v", seq, err)
		}
		if m.Subject != "tillbox.v1.s042.t01.tx" {
			t.Errorf("stream seq %d on %s: published with QoS 1", seq, m.Subject)
		}
	}
}
