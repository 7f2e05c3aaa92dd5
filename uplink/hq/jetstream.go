package hq

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"tillbox/uplink/mqttconn"
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
	subject string // the stream's subject filter
	prefix  string // the NATS form of the topic prefix, with its trailing dot
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
	np := strings.ReplaceAll(strings.TrimSuffix(p, "/"), "/", ".") + "."
	return &JetStreamConsumer{Consumer: c, js: js, brokers: brokers, subject: np + "*.*.tx", prefix: np}, nil
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
	// The MQTT session only publishes (acks): nothing arrives on it to acknowledge.
	cli, err := mqttconn.Connect(mqttconn.Session{Kind: mqttconn.Consumer, Broker: broker, ClientID: j.o.ClientID,
		Username: j.o.Username, Password: j.o.Password, TLS: j.o.TLS, Timeout: j.o.WaitTimeout,
		PingTimeout: max(j.o.WaitTimeout, hqPingTimeout), OnLost: report})
	if err != nil {
		return fmt.Errorf("hq: jetstream: %w", err)
	}
	defer cli.Disconnect(250)

	nopts := []nats.Option{nats.Name(j.o.ClientID), nats.Timeout(j.o.WaitTimeout), nats.MaxReconnects(-1),
		nats.ReconnectWait(j.o.BackoffMin), nats.ClosedHandler(func(*nats.Conn) { report(nats.ErrConnectionClosed) })}
	if j.o.Username != "" {
		nopts = append(nopts, nats.UserInfo(j.o.Username, j.o.Password))
	}
	if j.o.TLS != nil {
		nopts = append(nopts, nats.Secure(j.o.TLS))
	}
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
	it, err := cons.Messages(jetstream.PullMaxMessages(j.o.BatchMax))
	if err != nil {
		return fmt.Errorf("hq: jetstream: messages: %w", err)
	}
	j.o.Logger.Info("hq: consuming", "stream", j.js.Stream, "durable", j.js.Durable, "broker", broker)
	if err := j.republishAcks(ctx, cli); err != nil {
		it.Stop()
		return err
	}

	ended := make(chan struct{})
	var pump sync.WaitGroup
	pump.Add(1)
	go func() {
		defer pump.Done()
		for {
			m, err := it.Next()
			if err != nil {
				if errors.Is(err, jetstream.ErrMsgIteratorClosed) || errors.Is(err, nats.ErrConnectionClosed) {
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
			if err := j.worker(wctx, cli, in); err != nil {
				failed <- err
			}
		}()
	}
	defer func() {
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

// topic is the MQTT topic of a tx subject of the stream.
func (j *JetStreamConsumer) topic(subject string) string {
	return strings.ReplaceAll(subject, ".", "/")
}

// ensure finds or creates the stream and the shared durable consumer. A stream that
// exists is used as it is (an operator may have sized it); the consumer is created, or
// updated to this consumer's settings.
func (j *JetStreamConsumer) ensure(ctx context.Context, js jetstream.JetStream) (jetstream.Consumer, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*j.o.WaitTimeout)
	defer cancel()
	if _, err := js.Stream(ctx, j.js.Stream); errors.Is(err, jetstream.ErrStreamNotFound) {
		_, err = js.CreateStream(ctx, jetstream.StreamConfig{Name: j.js.Stream, Subjects: []string{j.subject},
			Retention: jetstream.WorkQueuePolicy, Storage: jetstream.FileStorage, Replicas: j.js.Replicas,
			MaxBytes: j.js.MaxBytes, Discard: jetstream.DiscardNew})
		if err != nil && !errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
			return nil, fmt.Errorf("hq: jetstream: create stream %s: %w", j.js.Stream, err)
		}
	} else if err != nil {
		return nil, fmt.Errorf("hq: jetstream: stream %s: %w", j.js.Stream, err)
	}
	cons, err := js.CreateOrUpdateConsumer(ctx, j.js.Stream, jetstream.ConsumerConfig{Durable: j.js.Durable,
		AckPolicy: jetstream.AckExplicitPolicy, AckWait: j.js.AckWait, MaxAckPending: j.js.MaxAckPending,
		MaxDeliver: -1, DeliverPolicy: jetstream.DeliverAllPolicy, FilterSubject: j.subject})
	if err != nil {
		return nil, fmt.Errorf("hq: jetstream: consumer %s: %w", j.js.Durable, err)
	}
	return cons, nil
}
