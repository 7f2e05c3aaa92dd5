package uplink_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"tillbox/ledger"
	"tillbox/ledger/journal"
	"tillbox/uplink"
	"tillbox/uplink/hq"
	"tillbox/uplink/identity"
	"tillbox/uplink/rig"
	"tillbox/uplink/wire"
)

// fleetRig is a fleet's security set-up made in a test: a CA, provisioned tills with their
// device keys registered, HQ's account, and Mosquitto started with the shipped TLS
// configuration and ACL (scripts/mosquitto), paths and port rewritten.
type fleetRig struct {
	t     *testing.T
	ca    *identity.CA
	dir   string // certificates and the ACL the broker reads
	keys  *hq.KeyDir
	tills map[string]*identity.Identity // by till id, store s042
	mq    *rig.Mosquitto
	hqTLS *tls.Config
}

func newFleetRig(t *testing.T, tills ...string) *fleetRig {
	t.Helper()
	now := time.Now()
	r := &fleetRig{t: t, dir: t.TempDir(), keys: &hq.KeyDir{Dir: t.TempDir()}, tills: map[string]*identity.Identity{}}
	ca, err := identity.InitCA(filepath.Join(t.TempDir(), "ca"), "test fleet CA", now)
	if err != nil {
		t.Fatal(err)
	}
	r.ca = ca
	for _, till := range tills {
		r.tills[till] = r.provision(till, true)
	}
	cert, key, err := ca.IssueServer([]string{"127.0.0.1"}, now)
	if err != nil {
		t.Fatal(err)
	}
	r.write("broker.crt", cert)
	r.write("broker.key", key)
	r.write("ca.crt", ca.CertPEM())
	r.hqTLS = r.account("tillhq")
	r.writeACL()
	r.start()
	return r
}

func (r *fleetRig) write(name string, b []byte) {
	r.t.Helper()
	if err := os.WriteFile(filepath.Join(r.dir, name), b, 0o600); err != nil {
		r.t.Fatal(err)
	}
}

// provision makes till's identity as `tillbox provision` and `tillhq ca sign` do.
func (r *fleetRig) provision(till string, register bool) *identity.Identity {
	r.t.Helper()
	dir := filepath.Join(r.t.TempDir(), "keys")
	p, err := identity.Provision(dir, "s042", till, nil)
	if err != nil {
		r.t.Fatal(err)
	}
	csr, _ := os.ReadFile(p.CSR)
	cert, err := r.ca.SignCSR(csr, time.Now())
	if err != nil {
		r.t.Fatal(err)
	}
	if err := identity.Install(dir, cert, r.ca.CertPEM(), r.ca.SigningPublicKey()); err != nil {
		r.t.Fatal(err)
	}
	if register {
		if err := r.keys.Register("s042", till, p.PublicKey); err != nil {
			r.t.Fatal(err)
		}
	}
	id, err := identity.Load(dir)
	if err != nil {
		r.t.Fatal(err)
	}
	return id
}

func (r *fleetRig) account(name string) *tls.Config {
	r.t.Helper()
	cert, key, err := r.ca.IssueAccount(name, time.Now())
	if err != nil {
		r.t.Fatal(err)
	}
	r.write(name+".crt", cert)
	r.write(name+".key", key)
	c, err := identity.ClientTLS(filepath.Join(r.dir, name+".crt"), filepath.Join(r.dir, name+".key"), filepath.Join(r.dir, "ca.crt"))
	if err != nil {
		r.t.Fatal(err)
	}
	return c
}

func (r *fleetRig) writeACL() {
	r.t.Helper()
	base, err := os.ReadFile("../scripts/mosquitto/acl")
	if err != nil {
		r.t.Fatal(err)
	}
	tills, err := r.keys.Tills()
	if err != nil {
		r.t.Fatal(err)
	}
	r.write("acl", hq.ACL(base, wire.DefaultPrefix, tills))
}

func (r *fleetRig) start() {
	r.t.Helper()
	crl, err := os.ReadFile(filepath.Join(r.ca.Dir, identity.CRLFile))
	if err != nil {
		r.t.Fatal(err)
	}
	r.write("crl.pem", crl)
	conf, err := os.ReadFile("../scripts/mosquitto/tillbox.conf")
	if err != nil {
		r.t.Fatal(err)
	}
	text := strings.NewReplacer("listener 8883", "listener {{PORT}} 127.0.0.1", "/etc/mosquitto/tillbox/", r.dir+"/").Replace(string(conf))
	if !strings.Contains(text, "{{PORT}}") || strings.Contains(text, "/etc/mosquitto/tillbox") {
		r.t.Fatal("the shipped configuration no longer has the listener and paths this test rewrites")
	}
	r.mq = rig.StartMosquitto(r.t, &rig.MosquittoOptions{Template: text})
}

func (r *fleetRig) url() string { return "ssl://" + r.mq.Addr }

// dialTLS connects a plain client with cfg; it returns the connect error.
func (r *fleetRig) dialTLS(id string, cfg *tls.Config) (*rawClient, error) {
	r.t.Helper()
	cli := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(r.url()).SetClientID(id).SetTLSConfig(cfg).
		SetOrderMatters(true).SetAutoReconnect(false).SetConnectTimeout(5 * time.Second))
	tok := cli.Connect()
	if !tok.WaitTimeout(10 * time.Second) {
		return nil, errors.New("connect timed out")
	}
	if err := tok.Error(); err != nil {
		return nil, err
	}
	r.t.Cleanup(func() { cli.Disconnect(100) })
	return &rawClient{t: r.t, cli: cli}, nil
}

func (r *fleetRig) mustDial(id string, cfg *tls.Config) *rawClient {
	r.t.Helper()
	c, err := r.dialTLS(id, cfg)
	if err != nil {
		r.t.Fatalf("%s: connect: %v", id, err)
	}
	return c
}

// tillOptions are a till's uplink options with its identity: mutual TLS, HQ's key.
func (r *fleetRig) tillOptions(till string) *uplink.Options {
	id := r.tills[till]
	o := fastOptions(r.url())
	o.TLS, o.HQKey = id.TLS, id.HQKey
	return o
}

// signedLedger opens a ledger that signs with till's device key.
func signedLedger(t *testing.T, id *identity.Identity, till string) *ledger.Ledger {
	t.Helper()
	l, err := ledger.Open(filepath.Join(t.TempDir(), till+".ledger"), &ledger.Options{Store: "s042", Till: till, Sign: id.Sign})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// TestBrokerACLConfinesEachTill runs a till and HQ through the shipped TLS and ACL
// configuration, then has another till's certificate try everything it must not do.
func TestBrokerACLConfinesEachTill(t *testing.T) {
	r := newFleetRig(t, "t01", "t02")
	st := boltHQ(t)
	runHQ(t, st, hq.Options{Broker: r.url(), TLS: r.hqTLS, Keys: r.keys, SignKey: r.ca.SigningKey(), Share: "hq"})
	l := signedLedger(t, r.tills["t01"], "t01")
	c, _ := runTill(t, l, r.tillOptions("t01"))
	appendSales(t, l, c, 30)
	waitSynced(t, l, c)
	assertAllAtHQ(t, l, st) // the till's path and HQ's (shared subscription, acks) are allowed

	tp := wire.Topics{}
	// Observers: HQ reads t01's outgoing topics and t02's status; t01 (a second connection
	// with its certificate) reads what t01 may read.
	hqObs := r.mustDial("hq-observer", r.hqTLS)
	hqSaw := hqObs.collect("tillbox/v1/s042/t01/+")
	t02Status := hqObs.collect(tp.Status("s042", "t02"))
	t01Obs := r.mustDial("t01-observer", r.tills["t01"].TLS)
	t01Acks := t01Obs.collect(tp.Ack("s042", "t01"))
	t01Cmds := t01Obs.collect(tp.Cmd("s042", "t01"))
	t01Cat := t01Obs.collect(tp.Catalog("s042"))
	waitFor(t, 10*time.Second, "t01's retained status and ack", func() bool { return len(hqSaw()) > 0 && len(t01Acks()) > 0 })
	hqBefore, acksBefore := len(hqSaw()), len(t01Acks())

	// t02 (its own valid certificate) speaks for t01 and for HQ.
	evil := r.mustDial("s042-t02-evil", r.tills["t02"].TLS)
	real := bytes.Clone(lastRaw(t, l))
	evil.pub(tp.Tx("s042", "t01"), false, forged(t, "t01", 31))
	evil.pub(tp.Status("s042", "t01"), true, wire.LostWill())
	evil.pub(tp.Event("s042", "t01"), false, []byte(`{"v":1,"kind":"paper-out","at":"2026-01-01T00:00:00Z"}`))
	evil.pub(tp.CmdResult("s042", "t01"), false, []byte(`{"v":1,"id":"x","ok":true}`))
	evil.pub(tp.Ack("s042", "t01"), true, wire.EncodeAck(999))
	evil.pub(tp.Cmd("s042", "t01"), false, []byte(`{"v":1,"id":"x","name":"sync-now"}`))
	evil.pub(tp.Catalog("s042"), true, []byte(`{"v":1,"store":"s042","version":99,"currency":"PLN","taxes":[],"items":[],"cashiers":[]}`))
	// It may not read t01's acks or commands either.
	stolen := evil.collect(tp.Ack("s042", "t01"))
	// Its own topics work, and one of them carries t01's real entry: the broker lets it
	// through (it is t02's topic), HQ refuses it because the payload names t01.
	evil.pub(tp.Tx("s042", "t02"), false, real)
	evil.pub(tp.Status("s042", "t02"), true, []byte(`{"v":1,"state":"online","backlog":0}`))
	// Markers published after everything above was processed by the broker.
	waitFor(t, 10*time.Second, "t02's own status at HQ", func() bool { return len(t02Status()) > 0 })
	hqPub := r.mustDial("hq-marker", r.hqTLS)
	signed := wire.Cmd{ID: "marker", Name: wire.CmdStatus}
	if err := wire.SignCmd(r.ca.SigningKey(), &signed, "s042", "t01", time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	p, _ := wire.EncodeCmd(signed)
	hqPub.pub(tp.Cmd("s042", "t01"), false, p)
	hqPub.pub(tp.Ack("s042", "t01"), true, wire.SignAck(r.ca.SigningKey(), "s042", "t01", 30))
	waitFor(t, 10*time.Second, "HQ's marker command at t01", func() bool { return len(t01Cmds()) > 0 })
	waitFor(t, 10*time.Second, "HQ's marker ack at t01", func() bool { return len(t01Acks()) > acksBefore })

	if n := len(hqSaw()) - hqBefore; n != 0 {
		t.Errorf("HQ received %d messages t02 published under t01's topics: %q", n, hqSaw()[hqBefore:])
	}
	for _, a := range t01Acks() {
		if through, _ := wire.DecodeAck(a); through == 999 {
			t.Error("t02's forged ack reached t01")
		}
	}
	if cmds := t01Cmds(); len(cmds) != 1 || !bytes.Contains(cmds[0], []byte(`"marker"`)) {
		t.Errorf("t01 received commands %q, want only HQ's", cmds)
	}
	if cats := t01Cat(); len(cats) != 0 {
		t.Errorf("t01 received catalogs %q, want none (only HQ may publish one)", cats)
	}
	if got := stolen(); len(got) != 0 {
		t.Errorf("t02 read t01's acks: %q", got)
	}
	if w, _ := l.Watermark(); w != 30 {
		t.Errorf("t01's watermark %d after the forgeries, want 30", w)
	}
	waitFor(t, 20*time.Second, "HQ to quarantine t01's entry sent on t02's topic", func() bool {
		for _, q := range quarantined(t, st) {
			if q.Till == "t02" && strings.Contains(q.Reason, wire.ErrIdentity.Error()) {
				return true
			}
		}
		return false
	})
	assertAllAtHQ(t, l, st)
}

func lastRaw(t *testing.T, l *ledger.Ledger) []byte {
	t.Helper()
	var raw []byte
	if err := l.After(0, 0, func(_ *journal.Entry, b []byte) bool { raw = bytes.Clone(b); return true }); err != nil {
		t.Fatal(err)
	}
	return raw
}

// TestWrongOrRevokedCertificateCannotConnect: the broker takes only certificates of the
// fleet CA that are not revoked.
func TestWrongOrRevokedCertificateCannotConnect(t *testing.T) {
	r := newFleetRig(t, "t01", "t03")
	if _, err := r.dialTLS("t03-before", r.tills["t03"].TLS); err != nil {
		t.Fatalf("t03 before revocation: %v", err) // the same path must work before it must fail
	}
	// A certificate of another CA, with a name the ACL would accept.
	other, err := identity.InitCA(filepath.Join(t.TempDir(), "other"), "someone else", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "keys")
	p, _ := identity.Provision(dir, "s042", "t01", nil)
	csr, _ := os.ReadFile(p.CSR)
	foreign, _ := other.SignCSR(csr, time.Now())
	os.WriteFile(filepath.Join(dir, identity.CertFile), foreign, 0o644)
	wrong, err := identity.ClientTLS(filepath.Join(dir, identity.CertFile), filepath.Join(dir, identity.TLSKeyFile), filepath.Join(r.dir, "ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.dialTLS("s042-t01-foreign", wrong); err == nil {
		t.Error("a certificate of another CA connected")
	}
	// No client certificate at all.
	bare := r.hqTLS.Clone()
	bare.Certificates = nil
	if _, err := r.dialTLS("no-cert", bare); err == nil {
		t.Error("a client without a certificate connected")
	}
	// Revoke t03 and give the running broker the new CRL: a reload, no restart.
	cert, _ := os.ReadFile(filepath.Join(r.tills["t03"].Dir, identity.CertFile))
	if err := r.ca.Revoke(cert, time.Now()); err != nil {
		t.Fatal(err)
	}
	crl, err := os.ReadFile(filepath.Join(r.ca.Dir, identity.CRLFile))
	if err != nil {
		t.Fatal(err)
	}
	r.write("crl.pem", crl)
	r.mq.Reload()
	if _, err := r.dialTLS("t03-after", r.tills["t03"].TLS); err == nil {
		t.Error("a revoked certificate connected")
	}
	if _, err := r.dialTLS("t01-after", r.tills["t01"].TLS); err != nil {
		t.Errorf("t01 after t03's revocation: %v", err)
	}
}

// TestNewTillJoinsOnReload: a till registered while the broker runs reads its store's
// catalog once the regenerated ACL is reloaded (SIGHUP), without a restart.
func TestNewTillJoinsOnReload(t *testing.T) {
	r := newFleetRig(t, "t01")
	hqPub := r.mustDial("hq", r.hqTLS)
	tp := wire.Topics{}
	hqPub.pub(tp.Catalog("s042"), true, []byte(`{"v":1,"marker":"catalog"}`))
	hqPub.pub(tp.Ack("s042", "t04"), true, wire.EncodeAck(1))

	r.tills["t04"] = r.provision("t04", true)
	r.writeACL()
	// Before the reload the broker still has the old ACL: t04 gets its own ack (a
	// pattern) but not the catalog, which the ACL names till by till.
	before := r.mustDial("s042-t04-before", r.tills["t04"].TLS)
	cat, ack := before.collect(tp.Catalog("s042")), before.collect(tp.Ack("s042", "t04"))
	waitFor(t, 10*time.Second, "t04's retained ack", func() bool { return len(ack()) > 0 })
	if got := cat(); len(got) != 0 {
		t.Fatalf("t04 read the catalog before the ACL naming it was loaded: %q", got)
	}
	r.mq.Reload()
	after := r.mustDial("s042-t04-after", r.tills["t04"].TLS)
	cat = after.collect(tp.Catalog("s042"))
	waitFor(t, 10*time.Second, "the catalog at t04 after the reload", func() bool { return len(cat()) > 0 })
}

// TestForgedOrAlteredSalesQuarantinedWithReason: HQ with registered device keys stores
// only what the till signed, even when the broker (here one without ACLs, as a
// compromised broker would be) delivers forgeries on the till's own topic.
func TestForgedOrAlteredSalesQuarantinedWithReason(t *testing.T) {
	mq := rig.StartMosquitto(t, nil)
	keys := &hq.KeyDir{Dir: t.TempDir()}
	ids := map[string]*identity.Identity{}
	for _, till := range []string{"t01", "t02"} {
		p, err := identity.Provision(filepath.Join(t.TempDir(), "keys"), "s042", till, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := keys.Register("s042", till, p.PublicKey); err != nil {
			t.Fatal(err)
		}
		if ids[till], err = identity.Load(p.Dir); err != nil {
			t.Fatal(err)
		}
	}
	st := boltHQ(t)
	runHQ(t, st, hq.Options{Broker: mq.URL(), Keys: keys})
	l := signedLedger(t, ids["t01"], "t01")
	c, stop := runTill(t, l, fastOptions(mq.URL()))
	appendSales(t, l, c, 10)
	waitSynced(t, l, c)
	stop() // nothing of the real till is in flight while the forgeries arrive

	entries := map[uint64]journal.Entry{}
	l.After(0, 0, func(e *journal.Entry, _ []byte) bool { entries[e.Seq] = *e; return true })
	last := entries[10]
	sign := func(e *journal.Entry, id *identity.Identity) []byte {
		e.Hash, e.Sig = "", ""
		e.Hash, _ = e.ComputeHash()
		if id != nil {
			s, _ := id.Sign(journal.SigMessage(e.Hash))
			e.Sig = encodeSig(s)
		}
		b, _ := json.Marshal(e)
		return b
	}
	next := func(n int) journal.Entry {
		e := rig.Sale(n)
		e.V, e.Store, e.Till, e.Seq, e.At = 1, "s042", "t01", 11, time.Now().UTC().Truncate(time.Millisecond)
		e.Receipt, e.Prev = journal.ReceiptNumber("S042-T01", 11), last.Hash
		return e
	}
	altered := entries[3]
	altered.Totals = &journal.Totals{Gross: 1}
	altered.Tenders = []journal.Tender{{Kind: "cash", Amount: 1}}
	oldSig := altered.Sig
	alteredRaw := func() []byte { sign(&altered, nil); altered.Sig = oldSig; b, _ := json.Marshal(&altered); return b }()
	badChain := next(2)
	badChain.Prev = entries[9].Hash // links to the wrong entry, signed with the real key (a stolen one)
	cases := []struct {
		name   string
		till   string
		seq    uint64
		raw    []byte
		reason string
	}{
		{"signed with another till's key", "t01", 11, func() []byte { e := next(1); return sign(&e, ids["t02"]) }(), "signature does not match the key"},
		{"unsigned", "t01", 11, func() []byte { e := next(1); return sign(&e, nil) }(), "not signed"},
		{"sale altered after signing", "t01", 3, alteredRaw, "signature does not match the key"},
		{"till with no registered key", "t09", 1, func() []byte {
			e := next(1)
			e.Till, e.Seq, e.Prev, e.Receipt = "t09", 1, journal.GenesisPrev, journal.ReceiptNumber("S042-T09", 1)
			return sign(&e, ids["t01"])
		}(), "no device key registered"},
		{"altered chain", "t01", 11, sign(&badChain, ids["t01"]), "broken chain"},
	}
	raw := dialRaw(t, mq.URL(), "compromised-broker")
	for _, cs := range cases {
		raw.pub(wire.Topics{}.Tx("s042", cs.till), false, cs.raw)
	}
	for _, cs := range cases {
		waitFor(t, 20*time.Second, "quarantine of: "+cs.name, func() bool {
			for _, q := range quarantined(t, st) {
				if q.Till == cs.till && q.Seq == cs.seq && strings.Contains(q.Reason, cs.reason) {
					t.Logf("%s: quarantined: %s", cs.name, q.Reason)
					return true
				}
			}
			return false
		})
	}
	// The real till goes on: its seq 11 is stored over the evicted forgery.
	runTill(t, l, fastOptions(mq.URL()))
	appendSales(t, l, nil, 5)
	waitSynced(t, l, nil)
	assertAllAtHQ(t, l, st)
}

// signingRig is a broker, HQ's CA, a CA that is not HQ's, and till t01's ledger.
func signingRig(t *testing.T) (*rig.Mosquitto, *identity.CA, *identity.CA, *ledger.Ledger) {
	t.Helper()
	mq := rig.StartMosquitto(t, nil)
	ca, err := identity.InitCA(filepath.Join(t.TempDir(), "ca"), "test", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	other, err := identity.InitCA(filepath.Join(t.TempDir(), "other"), "other", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return mq, ca, other, openLedger(t, t.TempDir(), "t01")
}

// hqPublic is the public half of ca's signing key, as a till is given it.
var hqPublic = rig.SigningPublic

// TestTillRefusesUnsignedCommandsAndCatalogs: a till that knows HQ's key runs only
// commands HQ signed for it and applies only catalogs HQ signed.
func TestTillRefusesUnsignedCommandsAndCatalogs(t *testing.T) {
	mq, ca, other, l := signingRig(t)
	now := time.Now()
	var runs atomic.Int32
	o := fastOptions(mq.URL())
	o.HQKey = hqPublic(t, ca)
	o.Commands = map[string]uplink.CommandFunc{"open-drawer": func(context.Context, json.RawMessage) (json.RawMessage, error) {
		runs.Add(1)
		return nil, nil
	}}
	c, _ := runTill(t, l, o)
	waitFor(t, 20*time.Second, "online", func() bool { return c.State().Online })
	fleet := dialRaw(t, mq.URL(), "attacker")
	tp := wire.Topics{}
	results := fleet.collect(tp.CmdResult("s042", "t01"))
	send := func(id string, key ed25519.PrivateKey, till string, exp time.Time) {
		cmd := wire.Cmd{ID: id, Name: "open-drawer"}
		if key != nil {
			if err := wire.SignCmd(key, &cmd, "s042", till, exp); err != nil {
				t.Fatal(err)
			}
		}
		p, _ := wire.EncodeCmd(cmd)
		fleet.pub(tp.Cmd("s042", "t01"), false, p)
	}
	refused := []struct {
		id     string
		key    ed25519.PrivateKey
		till   string
		exp    time.Time
		reason string
	}{
		{"unsigned", nil, "", time.Time{}, "not signed"},
		{"wrong-key", other.SigningKey(), "t01", now.Add(time.Hour), "does not match the key"},
		{"other-till", ca.SigningKey(), "t02", now.Add(time.Hour), "addressed to s042/t02"},
		{"expired", ca.SigningKey(), "t01", now.Add(-time.Minute), "expired"},
	}
	for _, r := range refused {
		send(r.id, r.key, r.till, r.exp)
		e := nextEvent(t, c, wire.EventCommandRefused)
		if !strings.Contains(e.Detail, r.reason) {
			t.Errorf("%s: refusal %q, want %q", r.id, e.Detail, r.reason)
		}
	}
	send("good", ca.SigningKey(), "t01", now.Add(time.Hour))
	waitFor(t, 20*time.Second, "the signed command's result", func() bool { return len(results()) > 0 })
	if runs.Load() != 1 {
		t.Errorf("the command ran %d times, want once (only the signed one)", runs.Load())
	}
	for _, p := range results() {
		if r, _ := wire.DecodeCmdResult(p); r.ID != "good" {
			t.Errorf("a refused command was answered: %s", p)
		}
	}

	// Catalogs: unsigned and wrongly signed are rejected, the signed one applied.
	pubCat := func(cat wire.Catalog) {
		p, err := wire.EncodeCatalog(cat)
		if err != nil {
			t.Fatal(err)
		}
		fleet.pub(tp.Catalog("s042"), true, p)
	}
	pubCat(validCatalog(t, 5))
	if e := nextEvent(t, c, wire.EventCatalogRejected); !strings.Contains(e.Detail, "not signed") {
		t.Errorf("unsigned catalog: %q", e.Detail)
	}
	bad := validCatalog(t, 6)
	wire.SignCatalog(other.SigningKey(), &bad)
	pubCat(bad)
	if e := nextEvent(t, c, wire.EventCatalogRejected); !strings.Contains(e.Detail, "does not match the key") {
		t.Errorf("wrongly signed catalog: %q", e.Detail)
	}
	good := validCatalog(t, 7)
	wire.SignCatalog(ca.SigningKey(), &good)
	pubCat(good)
	nextEvent(t, c, wire.EventCatalogApplied)
	if cat := c.Catalog(); cat == nil || cat.Version != 7 {
		t.Fatalf("catalog in use %+v, want the signed version 7", cat)
	}
}

// TestTillTakesOnlySignedAcks: a till that knows HQ's key moves its watermark only on
// an ack HQ signed for it. An HQ that does not sign, another key, another till's ack and
// a forged one are refused with an event, and nothing counts as synced until the real HQ
// signs.
func TestTillTakesOnlySignedAcks(t *testing.T) {
	mq, ca, other, l := signingRig(t)
	o := fastOptions(mq.URL())
	o.HQKey = hqPublic(t, ca)
	c, _ := runTill(t, l, o)
	appendSales(t, l, c, 20)
	last, _ := l.LastSeq()

	// HQ without its key stores everything; its acks move nothing.
	st := boltHQ(t)
	stopHQ := runHQ(t, st, hq.Options{Broker: mq.URL()})
	if e := nextEvent(t, c, wire.EventAckRefused); !strings.Contains(e.Detail, "not signed") {
		t.Errorf("unsigned ack: refusal %q", e.Detail)
	}
	waitFor(t, 20*time.Second, "HQ to store every sale", func() bool {
		tills, _ := st.Tills(context.Background())
		return len(tills) == 1 && tills[0].Through == last
	})
	stopHQ()

	attacker := dialRaw(t, mq.URL(), "attacker")
	ackTopic := wire.Topics{}.Ack("s042", "t01")
	for _, forged := range []struct {
		payload []byte
		reason  string
	}{
		{wire.SignAck(other.SigningKey(), "s042", "t01", last), "does not match the key"},
		{wire.SignAck(ca.SigningKey(), "s042", "t02", last), "addressed to s042/t02"},
		{[]byte(`{"v":1,"through":20,"store":"s042","till":"t01","sig":"` + encodeSig(make([]byte, 64)) + `"}`), "does not match the key"},
	} {
		attacker.pub(ackTopic, true, forged.payload)
		if e := nextEvent(t, c, wire.EventAckRefused); !strings.Contains(e.Detail, forged.reason) {
			t.Errorf("forged ack %s: refusal %q, want %q", forged.payload, e.Detail, forged.reason)
		}
	}
	if w, _ := l.Watermark(); w != 0 {
		t.Fatalf("watermark %d after refused acks, want 0: unsent sales would count as stored", w)
	}

	// The real HQ, with its key, republishes its signed ack on connect.
	runHQ(t, st, hq.Options{Broker: mq.URL(), SignKey: ca.SigningKey()})
	waitSynced(t, l, c)
	assertAllAtHQ(t, l, st)
}

func encodeSig(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }
