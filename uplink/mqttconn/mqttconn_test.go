package mqttconn_test

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"tillbox/uplink/identity"
	"tillbox/uplink/mqttconn"
	"tillbox/uplink/rig"
)

// server accepts one connection on loopback and hands it over.
func server(t *testing.T, ln net.Listener) <-chan net.Conn {
	t.Helper()
	ch := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			close(ch)
			return
		}
		t.Cleanup(func() { c.Close() })
		if tc, ok := c.(*tls.Conn); ok {
			tc.Handshake() // a TLS client's Open waits for it
		}
		ch <- c
	}()
	return ch
}

func listen(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln
}

func open(t *testing.T, rawURL string, o *mqtt.ClientOptions) net.Conn {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	c, err := mqttconn.Open(u, *o)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestWritesArriveWholeAndInOrderAndCloseSendsTheRest: thousands of small writes (as paho
// makes them, one packet each) arrive byte for byte, in order, including those queued
// just before Close; and the reads in the other direction come through the buffer intact.
func TestWritesArriveWholeAndInOrderAndCloseSendsTheRest(t *testing.T) {
	ln := listen(t)
	accepted := server(t, ln)
	c := open(t, "tcp://"+ln.Addr().String(), mqtt.NewClientOptions())
	peer := <-accepted

	var want bytes.Buffer
	for i := range 20000 {
		p := []byte(fmt.Sprintf("packet %d;", i))
		want.Write(p)
		if n, err := c.Write(p); n != len(p) || err != nil {
			t.Fatalf("write %d: %d, %v", i, n, err)
		}
	}
	got := make(chan []byte)
	go func() { b, _ := io.ReadAll(peer); peer.Close(); got <- b }()
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if b := <-got; !bytes.Equal(b, want.Bytes()) {
		t.Fatalf("peer read %d bytes, want %d (equal prefix: %v)", len(b), want.Len(), bytes.HasPrefix(want.Bytes(), b))
	}
	if _, err := c.Write([]byte("late")); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("write after Close: %v, want net.ErrClosed", err)
	}
	if err := c.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}

	// Reads: a peer's burst of small packets comes out exactly as sent.
	accepted = server(t, ln)
	c = open(t, "tcp://"+ln.Addr().String(), mqtt.NewClientOptions())
	defer c.Close()
	peer = <-accepted
	var sent bytes.Buffer
	for i := range 5000 {
		sent.Write([]byte{0x40, 0x02, byte(i >> 8), byte(i)}) // a PUBACK
	}
	go func() { peer.Write(sent.Bytes()); peer.Close() }()
	b, err := io.ReadAll(c)
	if err != nil || !bytes.Equal(b, sent.Bytes()) {
		t.Fatalf("read %d bytes (%v), want %d", len(b), err, sent.Len())
	}
}

// TestStuckPeerFailsTheWriterInBoundedTime: a broker that stops reading makes Write fail
// once the write timeout passes, rather than hang, and every later Write fails too.
func TestStuckPeerFailsTheWriterInBoundedTime(t *testing.T) {
	ln := listen(t)
	accepted := server(t, ln)
	c := open(t, "tcp://"+ln.Addr().String(), mqtt.NewClientOptions().SetWriteTimeout(300*time.Millisecond))
	defer c.Close()
	<-accepted // never read from
	chunk := make([]byte, 16<<10)
	var err error
	for i := 0; err == nil; i++ {
		if i > 1<<16 { // 1 GiB written into a peer that reads nothing: the queue is unbounded
			t.Fatal("writes never failed")
		}
		_, err = c.Write(chunk)
	}
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("write to a stuck peer: %v, want a deadline error", err)
	}
	if _, err2 := c.Write([]byte("x")); err2 == nil {
		t.Fatal("a write after the failure succeeded")
	}
}

// TestSchemes: TLS is dialled and its handshake done inside Open; websockets are refused.
func TestSchemes(t *testing.T) {
	ca, err := identity.InitCA(t.TempDir(), "test CA", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	certPEM, keyPEM, err := ca.IssueServer([]string{"127.0.0.1"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := server(t, ln)
	pool := x509.NewCertPool()
	pool.AddCert(ca.Cert)
	c := open(t, "ssl://"+ln.Addr().String(), mqtt.NewClientOptions().SetTLSConfig(&tls.Config{RootCAs: pool}))
	defer c.Close()
	peer := <-accepted
	if _, err := c.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 5)
	if _, err := io.ReadFull(peer, buf); err != nil || string(buf) != "hello" {
		t.Fatalf("over TLS: %q, %v", buf, err)
	}

	// A certificate the client does not trust fails in Open, not later.
	u, _ := url.Parse("ssl://" + ln.Addr().String())
	server(t, ln)
	if _, err := mqttconn.Open(u, *mqtt.NewClientOptions().SetTLSConfig(&tls.Config{})); err == nil {
		t.Fatal("an untrusted broker certificate was accepted")
	}
	for _, s := range []string{"ws://127.0.0.1:1/mqtt", "wss://127.0.0.1:1/mqtt", "http://127.0.0.1:1"} {
		u, _ := url.Parse(s)
		if _, err := mqttconn.Open(u, *mqtt.NewClientOptions()); !errors.Is(err, mqttconn.ErrScheme) {
			t.Fatalf("Open(%s): %v, want ErrScheme", s, err)
		}
	}
}

// TestCleanDisconnectIsNotLost: with a real Mosquitto, a paho client on this connection
// that disconnects cleanly while publishes are in flight does not trigger its last will
// (its DISCONNECT reached the broker), while one whose connection is cut does.
func TestCleanDisconnectIsNotLost(t *testing.T) {
	mq := rig.StartMosquitto(t, nil)
	watcher := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(mq.URL()).SetClientID("watcher"))
	if tok := watcher.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	defer watcher.Disconnect(100)
	got := make(chan string, 10)
	if tok := watcher.Subscribe("t/status", 1, func(_ mqtt.Client, m mqtt.Message) { got <- string(m.Payload()) }); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	var conns = map[string]net.Conn{}
	connect := func(id string) mqtt.Client {
		open := func(u *url.URL, o mqtt.ClientOptions) (net.Conn, error) {
			c, err := mqttconn.Open(u, o)
			conns[id] = c
			return c, err
		}
		cli := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(mq.URL()).SetClientID(id).SetCustomOpenConnectionFn(open).
			SetAutoReconnect(false).SetWill("t/status", "lost "+id, 1, false))
		if tok := cli.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
			t.Fatal(tok.Error())
		}
		// Publishes in flight when it disconnects: their PUBACKs arrive after the DISCONNECT
		// went out, and a socket closed with them unread would be reset, which can take the
		// DISCONNECT with it before the broker read it.
		for i := range 100 {
			cli.Publish("t/data", 1, false, fmt.Sprint(i))
		}
		return cli
	}
	next := func() string {
		select {
		case s := <-got:
			return s
		case <-time.After(10 * time.Second):
			t.Fatal("nothing arrived on t/status")
		}
		return ""
	}

	connect("clean").Disconnect(250)
	watcher.Publish("t/status", 1, false, "marker").WaitTimeout(10 * time.Second)
	if s := next(); s != "marker" {
		t.Fatalf("after a clean disconnect the watcher saw %q before its marker", s)
	}
	// The same connection closed without a DISCONNECT: the broker sends the will.
	connect("cut")
	conns["cut"].Close()
	if s := next(); s != "lost cut" {
		t.Fatalf("after a cut connection the watcher saw %q, want the will", s)
	}
}

// TestConnectSessions: Connect refuses a session it cannot make right, names the broker
// when it cannot connect, and makes sessions that work at a real Mosquitto: a till's will
// is published and its lost handler called when its link is cut.
func TestConnectSessions(t *testing.T) {
	lost := func(error) {}
	will := &mqttconn.Will{Topic: "t/status", Payload: []byte("lost"), Retained: false}
	for name, s := range map[string]mqttconn.Session{
		"no kind":             {Broker: "tcp://127.0.0.1:1", ClientID: "a", OnLost: lost},
		"no broker":           {Kind: mqttconn.Brief, ClientID: "a"},
		"no client id":        {Kind: mqttconn.Brief, Broker: "tcp://127.0.0.1:1"},
		"till without will":   {Kind: mqttconn.Till, Broker: "tcp://127.0.0.1:1", ClientID: "a", OnLost: lost},
		"consumer never lost": {Kind: mqttconn.Consumer, Broker: "tcp://127.0.0.1:1", ClientID: "a"},
		"watch never lost":    {Kind: mqttconn.Watch, Broker: "tcp://127.0.0.1:1", ClientID: "a"},
	} {
		if _, err := mqttconn.Connect(s); !errors.Is(err, mqttconn.ErrSession) {
			t.Errorf("%s: %v, want ErrSession", name, err)
		}
	}
	ln := listen(t)
	if _, err := mqttconn.Connect(mqttconn.Session{Kind: mqttconn.Brief, Broker: "tcp://" + ln.Addr().String(), ClientID: "a",
		Timeout: 300 * time.Millisecond}); err == nil || !strings.Contains(err.Error(), "connect tcp://"+ln.Addr().String()) {
		t.Errorf("a broker that never answers: %v, want an error naming it", err)
	}

	mq := rig.StartMosquitto(t, nil)
	watcher, err := mqttconn.Connect(mqttconn.Session{Kind: mqttconn.Brief, Broker: mq.URL(), ClientID: "watcher"})
	if err != nil {
		t.Fatal(err)
	}
	defer watcher.Disconnect(100)
	got := make(chan string, 10)
	if err := mqttconn.Wait(watcher.Subscribe("t/#", 1, func(_ mqtt.Client, m mqtt.Message) { got <- m.Topic() + " " + string(m.Payload()) }), 0, "subscribe"); err != nil {
		t.Fatal(err)
	}
	px := rig.StartProxy(t, mq.Addr)
	lostErr := make(chan error, 1)
	till, err := mqttconn.Connect(mqttconn.Session{Kind: mqttconn.Till, Broker: px.URL(), ClientID: "till", Will: will,
		KeepAlive: 2 * time.Second, Timeout: 2 * time.Second, OnLost: func(err error) { lostErr <- err }})
	if err != nil {
		t.Fatal(err)
	}
	defer till.Disconnect(0)
	if err := mqttconn.Wait(till.Publish("t/data", 1, false, "sale"), 0, "publish"); err != nil {
		t.Fatal(err)
	}
	next := func() string {
		select {
		case s := <-got:
			return s
		case <-time.After(15 * time.Second):
			t.Fatal("nothing arrived on t/#")
		}
		return ""
	}
	if s := next(); s != "t/data sale" {
		t.Fatalf("watcher saw %q, want the till's publish", s)
	}
	px.Cut()
	if s := next(); s != "t/status lost" {
		t.Fatalf("after the cut the watcher saw %q, want the will", s)
	}
	select {
	case <-lostErr:
	case <-time.After(15 * time.Second):
		t.Fatal("the till's lost handler was not called")
	}
}

// TestWaitWrapsTimeout: a token the broker does not complete in time gives ErrTimeout,
// wrapped with the operation.
func TestWaitWrapsTimeout(t *testing.T) {
	ln := listen(t)
	server(t, ln) // accepts, never answers
	cli := mqtt.NewClient(mqtt.NewClientOptions().AddBroker("tcp://" + ln.Addr().String()).SetClientID("w").
		SetConnectTimeout(10 * time.Second).SetAutoReconnect(false))
	err := mqttconn.Wait(cli.Connect(), 200*time.Millisecond, "demo: connect")
	if !errors.Is(err, mqttconn.ErrTimeout) || err.Error() != "demo: connect: "+mqttconn.ErrTimeout.Error() {
		t.Fatalf("Wait = %v, want demo: connect: wrapping ErrTimeout", err)
	}
	cli.Disconnect(0)
}

// TestBusyBrokerSessionLivesWhileMessagesArrive: a consumer's session (PingTimeout longer
// than Timeout) at a broker that never answers its pings, as a broker serving a fleet's
// sockets in turn answers them late, stays up as long as messages keep arriving, for
// twice the bound that would end it otherwise; once nothing arrives for KeepAlive plus PingTimeout it
// is lost, and says why.
func TestBusyBrokerSessionLivesWhileMessagesArrive(t *testing.T) {
	ln := listen(t)
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		t.Cleanup(func() { c.Close() })
		buf := make([]byte, 512)
		if _, err := c.Read(buf); err != nil { // CONNECT
			return
		}
		c.Write([]byte{0x20, 0x02, 0x00, 0x00}) // CONNACK, accepted
		go io.Copy(io.Discard, c)               // pings (never answered) and anything else
		accepted <- c
	}()
	var got atomic.Int64
	lost := make(chan error, 1)
	const keepAlive, pingTimeout = time.Second, 1500 * time.Millisecond
	cli, err := mqttconn.Connect(mqttconn.Session{Kind: mqttconn.Consumer, Broker: "tcp://" + ln.Addr().String(), ClientID: "hq",
		KeepAlive: keepAlive, Timeout: 500 * time.Millisecond, PingTimeout: pingTimeout,
		OnMessage: func(mqtt.Client, mqtt.Message) { got.Add(1) },
		OnLost:    func(err error) { lost <- err }})
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Disconnect(0)
	peer := <-accepted
	topic := "tillbox/v1/s1/t1/tx"
	publish := append([]byte{0x30, byte(2 + len(topic) + 4), 0, byte(len(topic))}, append([]byte(topic), "sale"...)...)
	for end := time.Now().Add(2 * (keepAlive + pingTimeout)); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
		if _, err := peer.Write(publish); err != nil {
			t.Fatal(err)
		}
		select {
		case err := <-lost:
			t.Fatalf("lost after %d messages while they kept arriving: %v", got.Load(), err)
		default:
		}
	}
	if got.Load() == 0 {
		t.Fatal("no message reached the handler")
	}
	select {
	case err := <-lost:
		if !strings.Contains(err.Error(), "nothing received from the broker") {
			t.Fatalf("lost with %v, want it to say nothing was received", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("a broker silent for good never ended the session")
	}
}

// TestPersistentSessionOnlyForConsumers: a persistent session is refused for any kind but
// a consumer, and for a consumer without a handler for what the broker kept.
func TestPersistentSessionOnlyForConsumers(t *testing.T) {
	lost := func(error) {}
	h := func(mqtt.Client, mqtt.Message) {}
	for name, s := range map[string]mqttconn.Session{
		"persistent watch":           {Kind: mqttconn.Watch, Broker: "tcp://127.0.0.1:1", ClientID: "a", OnLost: lost, Persistent: true, OnMessage: h},
		"persistent without handler": {Kind: mqttconn.Consumer, Broker: "tcp://127.0.0.1:1", ClientID: "a", OnLost: lost, Persistent: true},
		"brief with handler":         {Kind: mqttconn.Brief, Broker: "tcp://127.0.0.1:1", ClientID: "a", OnMessage: h},
	} {
		if _, err := mqttconn.Connect(s); !errors.Is(err, mqttconn.ErrSession) {
			t.Errorf("%s: %v, want ErrSession", name, err)
		}
	}
}

// TestRefusedConnectIsOneMQTT311Attempt: a broker that refuses the CONNECT (not
// authorized) sees one attempt, at MQTT 3.1.1, and the error says why it refused. paho
// left to itself tries again at MQTT 3.1 after any refusal: a second TLS handshake per
// refused till, and on NATS (which speaks only 3.1.1) the reason the caller sees becomes
// "unacceptable protocol version" instead of the broker's own.
func TestRefusedConnectIsOneMQTT311Attempt(t *testing.T) {
	ln := listen(t)
	levels := make(chan string, 4)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			// CONNECT: 0x10, remaining length (one byte here), protocol name, level.
			head := make([]byte, 2)
			if _, err := io.ReadFull(c, head); err != nil || head[0] != 0x10 {
				c.Close()
				levels <- fmt.Sprintf("bad CONNECT header % x", head)
				continue
			}
			body := make([]byte, int(head[1]))
			io.ReadFull(c, body)
			n := int(body[0])<<8 | int(body[1])
			levels <- fmt.Sprintf("%s/%d", body[2:2+n], body[2+n])
			c.Write([]byte{0x20, 2, 0, 5}) // CONNACK: not authorized
			c.Close()
		}
	}()
	_, err := mqttconn.Connect(mqttconn.Session{Kind: mqttconn.Brief, Broker: "tcp://" + ln.Addr().String(), ClientID: "a",
		Timeout: 2 * time.Second})
	if err == nil || !strings.Contains(strings.ToLower(err.Error()), "not authori") {
		t.Errorf("refused connect: %v, want the broker's reason (not authorized)", err)
	}
	var got []string
	for done := false; !done; {
		select {
		case l := <-levels:
			got = append(got, l)
		case <-time.After(500 * time.Millisecond):
			done = true
		}
	}
	if len(got) != 1 || got[0] != "MQTT/4" {
		t.Errorf("the broker saw CONNECTs %q, want one at MQTT 3.1.1 (MQTT/4)", got)
	}
}
