package hq

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"tillbox/uplink/mqttconn"
	"tillbox/uplink/wire"
)

// JetStream says where a JetStreamConsumer reads the tills' tx messages: a NATS cluster
// whose MQTT gateway the tills publish to, and the replicated stream that captures their
// tx subjects (the MQTT topic tillbox/v1/S/T/tx is the NATS subject tillbox.v1.S.T.tx).
type JetStream struct {
	// URLs are the cluster's NATS client URLs, comma-separated (nats://host:4222,...): the
	// client moves to another when one fails.
	URLs string
	// Stream is the stream's name. Default "TILLBOX_TX". It is created when missing, as a
	// work queue (a message leaves the stream once acknowledged) on file storage.
	Stream string
	// Replicas of a stream this consumer creates. Default 3 (a 3-node cluster survives
	// the loss of one node without losing a message the stream had accepted).
	Replicas int
	// MaxBytes bounds a stream this consumer creates; a full stream refuses new messages,
	// which their tills resend. Default unlimited (the servers' max_file_store bounds it).
	MaxBytes int64
	// Durable is the pull consumer every tillhq of the fleet shares. Default "tillhq".
	Durable string
	// AckWait: a message delivered to a tillhq that has not acknowledged it this long
	// after (it died, or lost the cluster) is delivered again, to any tillhq. It must
	// exceed the time a message waits in a tillhq's queue plus a commit. Default 30s.
	AckWait time.Duration
	// MaxAckPending is the most messages delivered to all tillhq together and not yet
	// acknowledged: the group's backpressure. Default 20000.
	MaxAckPending int
	// AckSessions is how many MQTT sessions publish the tills' acks, each till's always on
	// the same one. NATS handles one publish of a session at a time, and a retained one
	// waits for a replicated store (acks go out with QoS 0, which spares the second store
	// of a QoS 1 copy: see ackQoS): on one session every till's ack waits
	// behind every other's. Default 32; a session that cannot connect leaves the acks to
	// the others.
	AckSessions int
}

// JetStreamConsumer is a Consumer that takes the tx messages from a JetStream stream
// through one durable pull consumer shared by every tillhq, and publishes each till's
// retained ack over MQTT to the cluster's MQTT gateway. Several of them share the load
// without shared subscriptions; a message is acknowledged to the stream only after its
// commit, so one delivered to a tillhq that dies is delivered again after AckWait.
type JetStreamConsumer struct {
	*Consumer
	js      JetStream
	brokers []string
	// subjects are the tx stream's: where NATS's MQTT side stores each QoS 1 tx, and the
	// plain tx subjects, where a QoS 0 tx is published (see the stream layout).
	subjects []string
	prefix   string // the NATS form of the topic prefix, with its trailing dot
}

// mqttStore is the subject prefix under which NATS's MQTT side stores every QoS 1 message
// it receives, by a request it waits on before its PUBACK (nats-server 2.9 to 2.11: a
// message for the MQTT topic a/b is stored on $MQTT.msgs.a.b, in whichever stream
// captures that subject, by default its own $MQTT_msgs); mqttMsgs is that stream.
const (
	mqttStore = "$MQTT.msgs."
	mqttMsgs  = "$MQTT_msgs"
)

// The stream layout. NATS stores each QoS 1 message an MQTT client publishes before it
// answers with the PUBACK, and by default stores it in $MQTT_msgs, an interest stream
// that checks each message against every MQTT subscription's consumer (a few per till)
// and removes it when none wants it, while a stream capturing the tx subjects stores it a
// second time, three replicas each: in profiles of the fleet benchmark's cluster, the
// interest checks alone took nearly a third of each node's CPU. So the tx stream
// captures the tx subjects of the MQTT store itself ($MQTT.msgs.tillbox.v1.*.*.tx): each
// tx is written once, into TILLBOX_TX, and the PUBACK a till receives means that the
// replicated stream holds it. $MQTT_msgs keeps every other
// subject (mqttMsgsSubjects); tillhq narrows it when it finds it capturing everything.
// The tx stream captures the plain tx subjects (tillbox.v1.*.*.tx) too: a till that
// publishes its entries with QoS 0 (uplink.Options.TxQoS0, the setting for the cluster)
// has them stored there by the stream itself, with no request its connection waits on
// (see TxQoS0). A till publishing with QoS 1 has each entry stored twice, once under
// each subject (NATS publishes every message on its plain subject as well), and HQ
// stores it once: it works, at twice the cost. One consequence: on the cluster a tx
// topic cannot be subscribed to with QoS 1 over MQTT (NATS finds no stream for its
// consumer and refuses it); QoS 0 works.

// mqttKinds are the last levels of the per-till topics other than tx at the depth of a
// tx topic: what $MQTT_msgs must still capture there. A new per-till topic kind is added
// here, or NATS cannot store its QoS 1 messages (the cluster test publishes each).
var mqttKinds = []string{"ack", "status", "event", "cmd", "desired", "renew", "cert"}

// mqttMsgsSubjects is what $MQTT_msgs captures beside the tx stream: every subject of
// the MQTT store with fewer or more levels than a tx subject (catalogs, cmd.result,
// anything else) and, at a tx subject's depth, the other kinds.
func mqttMsgsSubjects(prefix string) []string {
	depth := strings.Count(prefix, ".") + 3 // prefix, store, till, kind
	var out []string
	for d := 1; d < depth; d++ {
		out = append(out, mqttStore+strings.Repeat("*.", d-1)+"*")
	}
	out = append(out, mqttStore+strings.Repeat("*.", depth)+">")
	for _, k := range mqttKinds {
		out = append(out, mqttStore+strings.Repeat("*.", depth-1)+k)
	}
	return out
}

// NewJetStreamConsumer makes a JetStreamConsumer over st. opts.Broker may list several
// MQTT URLs of the cluster, comma-separated: each session uses the next one.
func NewJetStreamConsumer(st Store, opts *Options, js JetStream) (*JetStreamConsumer, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	brokers, err := SplitBrokers(o.Broker)
	if err != nil {
		return nil, fmt.Errorf("hq: jetstream: %w", err)
	}
	if js.URLs == "" {
		return nil, fmt.Errorf("hq: jetstream: %w: no NATS URL", ErrOptions)
	}
	if o.Share != "" {
		return nil, fmt.Errorf("hq: jetstream: %w: a shared subscription and a JetStream consumer exclude each other", ErrOptions)
	}
	o.Broker = brokers[0]
	c, err := NewConsumer(st, &o)
	if err != nil {
		return nil, err
	}
	p := c.topics.Prefix
	if strings.ContainsAny(p, ". *>\t") {
		return nil, fmt.Errorf("hq: jetstream: %w: prefix %q has a character a NATS subject cannot carry", ErrOptions, p)
	}
	if js.Stream == "" {
		js.Stream = "TILLBOX_TX"
	}
	if js.Durable == "" {
		js.Durable = "tillhq"
	}
	if js.Replicas <= 0 {
		js.Replicas = 3
	}
	if js.MaxBytes <= 0 {
		js.MaxBytes = -1
	}
	if js.AckWait <= 0 {
		js.AckWait = 30 * time.Second
	}
	if js.MaxAckPending <= 0 {
		js.MaxAckPending = 20000
	}
	if js.AckSessions <= 0 {
		js.AckSessions = 32
	}
	np := strings.ReplaceAll(strings.TrimSuffix(p, "/"), "/", ".") + "."
	return &JetStreamConsumer{Consumer: c, js: js, brokers: brokers, subjects: []string{mqttStore + np + "*.*.tx", np + "*.*.tx"}, prefix: np}, nil
}

// SplitBrokers parses a comma-separated list of broker URLs; each must have a host.
func SplitBrokers(list string) ([]string, error) {
	var out []string
	for _, b := range strings.Split(list, ",") {
		b = strings.TrimSpace(b)
		if u, err := url.Parse(b); b == "" || err != nil || u.Host == "" {
			return nil, fmt.Errorf("%w: broker URL %q", ErrOptions, b)
		}
		out = append(out, b)
	}
	return out, nil
}

// Run consumes until ctx is done. A lost MQTT session, a closed NATS connection or a
// store failure ends the session: what it had received and not committed is handed back
// to the stream (or, if that is lost too, delivered again after AckWait), and the next
// session starts after a jittered backoff on the next MQTT broker of the list.
func (j *JetStreamConsumer) Run(ctx context.Context) error {
	attempt, next := 0, 0
	for {
		broker := j.brokers[next%len(j.brokers)]
		err := j.session(ctx, broker)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if errors.Is(err, errConnected) {
			attempt = 0
		}
		attempt++
		next++
		j.o.Logger.Warn("hq: jetstream session ended", "broker", broker, "err", err)
		d := j.o.BackoffMin << min(attempt, 16)
		if d > j.o.BackoffMax || d <= 0 {
			d = j.o.BackoffMax
		}
		d = d/2 + time.Duration(rand.Int64N(int64(d/2)+1))
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(d):
		}
	}
}

// jsMessage is a message of the stream as the workers take it.
type jsMessage struct {
	m     jetstream.Msg
	topic string
}

func (m jsMessage) Topic() string   { return m.topic }
func (m jsMessage) Payload() []byte { return m.m.Data() }
func (m jsMessage) Retained() bool  { return false }
func (m jsMessage) Ack()            { m.m.Ack() }

func (j *JetStreamConsumer) session(ctx context.Context, broker string) error {
	lost := make(chan error, 3)
	report := func(err error) {
		select {
		case lost <- err:
		default:
		}
	}
	in := make(chan delivery, 4*j.o.BatchMax)
	j.queue.Store(&in)
	nopts := []nats.Option{nats.Name(j.o.ClientID), nats.Timeout(j.o.WaitTimeout), nats.MaxReconnects(-1),
		nats.ReconnectWait(j.o.BackoffMin), nats.ClosedHandler(func(*nats.Conn) { report(nats.ErrConnectionClosed) })}
	if j.o.Username != "" {
		nopts = append(nopts, nats.UserInfo(j.o.Username, j.o.Password))
	}
	if j.o.TLS != nil {
		nopts = append(nopts, nats.Secure(j.o.TLS))
	}
	// The streams first: laid out before this session's MQTT connection, which may be
	// the cluster's first, so that NATS finds $MQTT_msgs made as it is to be.
	nc, err := nats.Connect(j.js.URLs, nopts...)
	if err != nil {
		return fmt.Errorf("hq: jetstream: connect %s: %w", j.js.URLs, err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return fmt.Errorf("hq: jetstream: %w", err)
	}
	cons, err := j.ensure(ctx, js)
	if err != nil {
		return err
	}
	// The MQTT session only publishes (acks): nothing arrives on it to acknowledge.
	cli, err := mqttconn.Connect(mqttconn.Session{Kind: mqttconn.Consumer, Broker: broker, ClientID: j.o.ClientID,
		Username: j.o.Username, Password: j.o.Password, TLS: j.o.TLS, Timeout: j.o.WaitTimeout,
		PingTimeout: max(j.o.WaitTimeout, hqPingTimeout), OnLost: report})
	if err != nil {
		return fmt.Errorf("hq: jetstream: %w", err)
	}
	defer cli.Disconnect(250)
	acks := ackSessions{Client: cli}
	for i := 1; i < j.js.AckSessions; i++ {
		c, err := mqttconn.Connect(mqttconn.Session{Kind: mqttconn.Consumer, Broker: broker, ClientID: fmt.Sprintf("%s-ack%d", j.o.ClientID, i),
			Username: j.o.Username, Password: j.o.Password, TLS: j.o.TLS, Timeout: j.o.WaitTimeout,
			PingTimeout: max(j.o.WaitTimeout, hqPingTimeout), OnLost: report})
		if err != nil {
			// Fewer sessions carry the acks: a broker too busy to take one more
			// connection does not stop the draining.
			j.o.Logger.Warn("hq: jetstream: ack session", "n", i, "err", err)
			break
		}
		defer c.Disconnect(250)
		acks.more = append(acks.more, c)
	}

	it, err := cons.Messages(jetstream.PullMaxMessages(j.o.BatchMax))
	if err != nil {
		return fmt.Errorf("hq: jetstream: messages: %w", err)
	}
	j.watchRetainedTx(ctx, cli)
	j.o.Logger.Info("hq: consuming", "stream", j.js.Stream, "durable", j.js.Durable, "broker", broker)
	out := newAckFlow(j.Consumer, acks)
	if err := j.republishAcks(ctx, out); err != nil {
		it.Stop()
		return err
	}

	ended := make(chan struct{})
	var stopping atomic.Bool
	var pump sync.WaitGroup
	pump.Add(1)
	go func() {
		defer pump.Done()
		for {
			m, err := it.Next()
			if err != nil {
				if stopping.Load() {
					return
				}
				if errors.Is(err, jetstream.ErrMsgIteratorClosed) || errors.Is(err, nats.ErrConnectionClosed) ||
					errors.Is(err, jetstream.ErrConsumerDeleted) || errors.Is(err, jetstream.ErrConsumerNotFound) {
					// The consumer is gone (deleted, or lost with the whole cluster: it
					// lives in memory) or the iterator ended: the next session makes it
					// again and reads what the work queue still holds.
					report(fmt.Errorf("hq: jetstream: messages ended: %w", err))
					return
				}
				if errors.Is(err, jetstream.ErrNoHeartbeat) && j.consumerGone(ctx, cons) {
					report(fmt.Errorf("hq: jetstream: consumer %s gone: %w", j.js.Durable, err))
					return
				}
				// A missed heartbeat or a leader change: the iterator goes on pulling.
				j.o.Logger.Info("hq: jetstream: next", "err", err)
				continue
			}
			select {
			case in <- jsMessage{m: m, topic: j.topic(m.Subject())}:
			case <-ended:
				m.Nak()
				return
			}
		}
	}()

	wctx, stopWorkers := context.WithCancel(ctx)
	var workers sync.WaitGroup
	failed := make(chan error, j.o.Workers)
	for range j.o.Workers {
		workers.Add(1)
		go func() {
			defer workers.Done()
			if err := j.worker(wctx, out, in); err != nil {
				failed <- err
			}
		}()
	}
	defer func() {
		stopping.Store(true)
		it.Stop()
		close(ended)
		pump.Wait()
		stopWorkers()
		workers.Wait()
		// Received and not committed: back to the stream at once, for any tillhq.
		for {
			select {
			case d := <-in:
				d.(jsMessage).m.Nak()
			default:
				return
			}
		}
	}()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case err := <-lost:
		return fmt.Errorf("hq: jetstream: connection lost: %w (%w)", err, errConnected)
	case err := <-failed:
		return fmt.Errorf("%w (%w)", err, errConnected)
	}
}

// consumerGone says whether the cluster answers that the durable consumer does not exist
// (an answer that does not come, or another error, is not taken for its absence).
func (j *JetStreamConsumer) consumerGone(ctx context.Context, cons jetstream.Consumer) bool {
	ctx, cancel := context.WithTimeout(ctx, j.o.WaitTimeout)
	defer cancel()
	_, err := cons.Info(ctx)
	return errors.Is(err, jetstream.ErrConsumerNotFound)
}

// ackSessions is the session's MQTT client whose publishes are spread over more sessions
// by topic, so that one till's acks always go out on one session, in order.
type ackSessions struct {
	mqtt.Client
	more []mqtt.Client
}

func (a ackSessions) Publish(topic string, qos byte, retained bool, payload any) mqtt.Token {
	if i := connectionOf(topic, len(a.more)+1); i > 0 {
		return a.more[i-1].Publish(topic, qos, retained, payload)
	}
	return a.Client.Publish(topic, qos, retained, payload)
}

// RetainedTxWatch is how long each session of a JetStreamConsumer listens, over MQTT, to
// the tills' tx topics for retained messages (see watchRetainedTx).
const RetainedTxWatch = 10 * time.Second

// watchRetainedTx finds retained tx messages: a till must never publish one, and on
// Mosquitto HQ's subscription receives each with its retain flag when it subscribes. In
// JetStream mode the stream's copy of a tx carries no retain flag, so each session
// subscribes to the tx topics over MQTT with QoS 0 for RetainedTxWatch: the broker sends
// every retained one, flagged, at once (the live ones that come meanwhile are ignored:
// they are the stream's), and each is quarantined ("retained tx message") and cleared
// with an empty retained message of QoS 0 (the shipped permissions, like the Mosquitto
// ACL, let HQ publish on tx topics for that; the stream's copy of the empty message is
// dropped by the consumer's check). Nothing here blocks the MQTT client or the session.
func (j *JetStreamConsumer) watchRetainedTx(ctx context.Context, cli mqtt.Client) {
	filter := j.topics.AllTills(wire.KindTx)
	tok := cli.Subscribe(filter, 0, func(_ mqtt.Client, m mqtt.Message) {
		if !m.Retained() || len(m.Payload()) == 0 {
			return
		}
		go j.quarantineRetained(ctx, cli, m.Topic(), bytes.Clone(m.Payload()))
	})
	go func() {
		if err := mqttconn.Wait(tok, j.o.WaitTimeout, "hq: jetstream: subscribe "+filter); err != nil {
			j.o.Logger.Warn("hq: jetstream: no watch for retained tx", "err", err)
			return
		}
		select {
		case <-ctx.Done():
		case <-time.After(RetainedTxWatch):
		}
		if cli.IsConnected() {
			cli.Unsubscribe(filter)
		}
	}()
}

// quarantineRetained stores a retained tx message as quarantined and clears it.
func (j *JetStreamConsumer) quarantineRetained(ctx context.Context, cli mqtt.Client, topic string, payload []byte) {
	im := j.check(retainedTx{topic: topic, payload: payload})
	res, err := Ingest(ctx, j.st, Batch{Quarantine: []Quarantine{*im.q}})
	if err != nil {
		j.o.Logger.Error("hq: jetstream: retained tx not quarantined", "topic", topic, "err", err)
		return
	}
	j.quarantined.Add(uint64(res.Quarantined))
	j.o.Logger.Warn("hq: quarantined", "topic", topic, "reason", im.q.Reason)
	cli.Publish(topic, 0, true, []byte{})
}

// retainedTx is a retained tx message received over MQTT.
type retainedTx struct {
	topic   string
	payload []byte
}

func (m retainedTx) Topic() string   { return m.topic }
func (m retainedTx) Payload() []byte { return m.payload }
func (m retainedTx) Retained() bool  { return true }
func (m retainedTx) Ack()            {}

// topic is the MQTT topic of a tx subject of the stream (a stream made before the MQTT
// store's subjects were captured holds the plain subjects).
func (j *JetStreamConsumer) topic(subject string) string {
	return strings.ReplaceAll(strings.TrimPrefix(subject, mqttStore), ".", "/")
}

// ensure lays out the streams (see mqttMsgs) and finds or creates the shared durable
// consumer. A tx stream that exists is used as it is (an operator may have sized it) but
// for its subjects, which are set to the MQTT store's tx subjects; the consumer is
// created, or updated to this consumer's settings (it reads the whole stream: a stream
// of an older layout still holds plain tx subjects).
func (j *JetStreamConsumer) ensure(ctx context.Context, js jetstream.JetStream) (jetstream.Consumer, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*j.o.WaitTimeout)
	defer cancel()
	if err := j.sessionsInMemory(ctx, js); err != nil {
		return nil, err
	}
	if err := j.narrowMQTTMsgs(ctx, js); err != nil {
		return nil, err
	}
	if st, err := js.Stream(ctx, j.js.Stream); errors.Is(err, jetstream.ErrStreamNotFound) {
		_, err = js.CreateStream(ctx, jetstream.StreamConfig{Name: j.js.Stream, Subjects: j.subjects,
			Retention: jetstream.WorkQueuePolicy, Storage: jetstream.FileStorage, Replicas: j.js.Replicas,
			MaxBytes: j.js.MaxBytes, Discard: jetstream.DiscardNew})
		if err != nil && !errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
			return nil, fmt.Errorf("hq: jetstream: create stream %s: %w", j.js.Stream, err)
		}
	} else if err != nil {
		return nil, fmt.Errorf("hq: jetstream: stream %s: %w", j.js.Stream, err)
	} else if cfg := st.CachedInfo().Config; !slices.Equal(cfg.Subjects, j.subjects) {
		cfg.Subjects = j.subjects
		if _, err := js.UpdateStream(ctx, cfg); err != nil {
			return nil, fmt.Errorf("hq: jetstream: stream %s: capture %s: %w", j.js.Stream, strings.Join(j.subjects, " "), err)
		}
		j.o.Logger.Info("hq: jetstream: the tx stream captures the MQTT store's and the plain tx subjects", "stream", j.js.Stream, "subjects", j.subjects)
	}
	// The consumer's state (what it delivered to whom, what was acknowledged) is replicated
	// like the stream, in memory: NATS proposes every delivery and every ack of a
	// replicated consumer to its replicas, and on file each proposal is a write to the
	// consumer's log on every node. Nothing is lost with it: the stream is a work queue,
	// so a message leaves it only when acknowledged, after its commit; a consumer whose
	// state is lost with all three nodes at once delivers again what the stream still
	// holds (some of it already stored: HQ stores it once), and one that is gone is made
	// again by the next session (the session ends when it finds it gone). A consumer
	// made on file before stays on file (a server does not change a consumer's storage;
	// since 2.10 it refuses the update).
	//
	// Acks stay explicit, one per message: AckAll would acknowledge every message of the
	// consumer below the one acknowledged, whichever tillhq holds it uncommitted, and a
	// tillhq dying with such a message would lose it from the work queue.
	cfg := jetstream.ConsumerConfig{Durable: j.js.Durable,
		AckPolicy: jetstream.AckExplicitPolicy, AckWait: j.js.AckWait, MaxAckPending: j.js.MaxAckPending,
		MaxDeliver: -1, DeliverPolicy: jetstream.DeliverAllPolicy, MemoryStorage: true}
	if old, err := js.Consumer(ctx, j.js.Stream, j.js.Durable); err == nil {
		cfg.MemoryStorage = old.CachedInfo().Config.MemoryStorage
	}
	cons, err := js.CreateOrUpdateConsumer(ctx, j.js.Stream, cfg)
	if err != nil {
		// A consumer of the older layout filtered the plain tx subjects, and a server
		// before 2.10 does not change a filter: it is made again. What it had delivered
		// and not had acknowledged stays in the work queue for the new one.
		if old, ierr := js.Consumer(ctx, j.js.Stream, j.js.Durable); ierr == nil && old.CachedInfo().Config.FilterSubject != "" {
			if derr := js.DeleteConsumer(ctx, j.js.Stream, j.js.Durable); derr == nil || errors.Is(derr, jetstream.ErrConsumerNotFound) {
				cons, err = js.CreateOrUpdateConsumer(ctx, j.js.Stream, cfg)
			}
		}
	}
	if err != nil {
		return nil, fmt.Errorf("hq: jetstream: consumer %s: %w", j.js.Durable, err)
	}
	return cons, nil
}

// mqttSess is the stream of NATS's MQTT sessions: one record per client id, written
// at every connect and every SUBSCRIBE, deleted at the disconnect of a clean session.
const mqttSess = "$MQTT_sess"

// sessionsInMemory creates $MQTT_sess when it is missing, as NATS would (one message per
// subject, the tx stream's replicas) but in memory, and $MQTT_msgs likewise (see
// narrowMQTTMsgs). Every MQTT session on the cluster is clean (the tills' and tillhq's):
// a record or a queued QoS 1 message lives only as long as its connection, and what must
// outlive a node (the retained acks, statuses, catalogs in $MQTT_rmsgs, the tx stream)
// stays on file. A memory stream's replicas keep no file or log on disk; a till's
// connect reads its record and writes it five times (the connect, each of its four
// subscriptions), each a replicated write NATS waits for before it goes on with that
// connection. NATS makes these streams at the first MQTT connection of the cluster, on
// file: to have them in memory, tillhq serve --jetstream runs before the tills first
// connect (an existing stream is used as it is: its storage cannot change).
func (j *JetStreamConsumer) sessionsInMemory(ctx context.Context, js jetstream.JetStream) error {
	if _, err := js.Stream(ctx, mqttSess); !errors.Is(err, jetstream.ErrStreamNotFound) {
		if err != nil {
			return fmt.Errorf("hq: jetstream: stream %s: %w", mqttSess, err)
		}
		return nil
	}
	_, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: mqttSess, Subjects: []string{"$MQTT.sess.>"},
		Retention: jetstream.LimitsPolicy, MaxMsgsPerSubject: 1, Storage: jetstream.MemoryStorage, Replicas: j.js.Replicas})
	if err != nil && !errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
		return fmt.Errorf("hq: jetstream: create stream %s: %w", mqttSess, err)
	}
	return nil
}

// narrowMQTTMsgs makes $MQTT_msgs capture every subject of the MQTT store but the tx
// ones: it creates it so when it is missing (as NATS would, interest retention, with the
// tx stream's replicas, but in memory: see sessionsInMemory) and narrows it when it captures everything
// (NATS made it at its first MQTT client). Until both streams are laid out a till's tx
// finds no stream: NATS closes its connection, and it sends again.
func (j *JetStreamConsumer) narrowMQTTMsgs(ctx context.Context, js jetstream.JetStream) error {
	want := mqttMsgsSubjects(j.prefix)
	st, err := js.Stream(ctx, mqttMsgs)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		_, err = js.CreateStream(ctx, jetstream.StreamConfig{Name: mqttMsgs, Subjects: want,
			Retention: jetstream.InterestPolicy, Storage: jetstream.MemoryStorage, Replicas: j.js.Replicas})
		if err == nil || !errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
			if err != nil {
				return fmt.Errorf("hq: jetstream: create stream %s: %w", mqttMsgs, err)
			}
			return nil
		}
		st, err = js.Stream(ctx, mqttMsgs) // NATS made it meanwhile
	}
	if err != nil {
		return fmt.Errorf("hq: jetstream: stream %s: %w", mqttMsgs, err)
	}
	cfg := st.CachedInfo().Config
	if slices.Equal(cfg.Subjects, want) {
		return nil
	}
	cfg.Subjects = want
	if _, err := js.UpdateStream(ctx, cfg); err != nil {
		return fmt.Errorf("hq: jetstream: stream %s: leave the tx subjects to %s: %w", mqttMsgs, j.js.Stream, err)
	}
	j.o.Logger.Info("hq: jetstream: MQTT's message stream leaves the tx subjects to the tx stream", "stream", mqttMsgs)
	return nil
}
