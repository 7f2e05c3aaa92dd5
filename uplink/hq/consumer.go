package hq

import (
	"cmp"
	"context"
	"crypto/ed25519"
	"crypto/tls"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"math/rand/v2"
	"net/url"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"tillbox/uplink/mqttconn"
	"tillbox/uplink/wire"
)

// Options configure a Consumer. Only Broker is required.
type Options struct {
	// Broker is the MQTT 3.1.1 broker's URL: tcp://host:1883 or ssl://host:8883.
	Broker string
	// Prefix of every topic. Default wire.DefaultPrefix.
	Prefix string
	// ClientID must differ between consumers. Default "tillhq-{hostname}-{pid}".
	//
	// A consumer given its ClientID, and not sharing the tills with other consumers
	// (Share), keeps a persistent session at the broker under it: while the connection is
	// down (a broker starved by a storm, a network cut, a restart of this process under
	// the same id) the broker keeps the subscription and queues the tills' messages for
	// it, and delivers them, with those it had sent and not had acknowledged, when the
	// consumer connects again; nothing waits for the tills' resends. With the default id,
	// which changes with every process, the session is clean: a persistent one would be
	// left at the broker by every process that ended, queuing the fleet's messages for
	// nobody. With Share it is clean too: the broker goes on handing a member of a shared
	// group that is away its share of every message, resends included, so a consumer
	// killed for good would hold some of each till's entries until its session expired.
	ClientID           string
	Username, Password string
	// TLS is HQ's own identity at the broker (a client certificate of the fleet CA, named
	// e.g. "tillhq"), and the CA the broker's certificate must chain to.
	TLS *tls.Config
	// Keys, when set, is the registry of device keys: an entry is stored only when its
	// till's registered key signed it, so a sale forged or altered anywhere between the
	// till and HQ (the broker included) is quarantined with the reason. Nil stores
	// unsigned entries (an embedded HQ, a laptop).
	Keys Keys
	// SignKey, when set, is HQ's signing key (identity.CA's hq-sign.key): every ack is
	// signed and names its till, and a till provisioned with HQ's key moves its watermark
	// only on such an ack. Nil publishes unsigned acks, which such a till refuses.
	SignKey ed25519.PrivateKey
	// Share, when set, subscribes as the shared subscription $share/{Share}/...: the
	// broker spreads the tills' messages over every consumer of the group.
	Share string
	// BatchMax is the most messages stored in one transaction. Default 1000.
	BatchMax int
	// Workers is how many batches are stored concurrently. Default 2.
	Workers int
	// Connections is how many connections the consumer keeps to the broker, each a member
	// of one shared subscription (the group Share, or one named after ClientID), so that
	// a broker that reads a client's socket one packet per round of its loop, as
	// Mosquitto does, takes that many of its PUBACKs per round. Each holds up to the
	// broker's in-flight limit. The broker then spreads a till's messages over them, so
	// they reach the workers nearly, not exactly, in order (entries above a gap wait for
	// it at no loss). Default 1.
	Connections int
	// WaitTimeout bounds every wait on the broker. Default 10s.
	WaitTimeout time.Duration
	// BackoffMin and BackoffMax bound the wait between connection attempts. Defaults
	// 200ms and 10s.
	BackoffMin, BackoffMax time.Duration
	// Logger receives quarantines and connection changes. Default: discard.
	Logger *slog.Logger
	// Quarantine bounds what is kept of each till's quarantine per kind of reason. Nil:
	// DefaultQuarantineLimits.
	Quarantine *QuarantineLimits
	// AfterCommit, when set, is called after each commit and before its acks are
	// published: fault tests use it to kill the process in exactly that gap.
	AfterCommit func(Result)
}

// Consumer takes every till's tx messages from the broker, stores them through Ingest and
// publishes each till's retained ack after the commit.
type Consumer struct {
	st     Store
	o      Options
	topics wire.Topics
	// persistent: the session at the broker outlives a connection (Options.ClientID).
	persistent bool

	stored, dups, quarantined atomic.Uint64
	letGo                     atomic.Uint64
	acks                      atomic.Uint64
	lagNanos                  atomic.Int64                  // of the last commit: see Stats.Lag
	queue                     atomic.Pointer[chan delivery] // the current session's, for Stats.Pending
	// queues are the current session's queues, a worker's each (an MQTT session's: see
	// handOver), for Stats.Pending; when set, queue is not.
	queues atomic.Pointer[[]chan delivery]

	// acked is the highest through this process published per till. Workers commit
	// concurrently and could otherwise publish a lower watermark after a higher one,
	// leaving the lower one retained.
	ackMu sync.Mutex
	acked map[TillKey]uint64
	// While a backlog waits, a till's next ack is held back until ackEvery after its last
	// one (deferred holds it, ackedAt says when the last went out): in a storm every batch
	// holds an entry or two of each of a thousand tills, and an ack per till per commit
	// would cost the broker and every till as much as the entries themselves.
	deferred map[TillKey]uint64
	ackedAt  map[TillKey]time.Time
	// published is the through of each till's last ack that went out: one that has moved
	// ackStride beyond it is not held back (see ackStride).
	published map[TillKey]uint64
	// held is, per till that resent entries, what its last commit found held above the
	// watermark, until the ack through that watermark goes out with its held message.
	held map[TillKey]Held

	// dropped counts, per till and kind, what the quarantine's bound did not keep.
	dropMu  sync.Mutex
	dropped map[boundKey]uint64
}

// QuarantineDropped returns what this process dropped over the quarantine's bound, per
// till and kind, sorted by till and kind (Store, Till, Kind and Dropped are set).
func (c *Consumer) QuarantineDropped() []QuarantineBound {
	c.dropMu.Lock()
	out := make([]QuarantineBound, 0, len(c.dropped))
	for k, n := range c.dropped {
		out = append(out, QuarantineBound{Store: k.Store, Till: k.Till, Kind: k.kind, Dropped: n})
	}
	c.dropMu.Unlock()
	sort.Slice(out, func(i, j int) bool {
		return boundLess(boundKey{TillKey{out[i].Store, out[i].Till}, out[i].Kind}, boundKey{TillKey{out[j].Store, out[j].Till}, out[j].Kind})
	})
	return out
}

// hqPingTimeout is the least time HQ waits for the broker's answer to its ping.
const hqPingTimeout = 2 * time.Minute

// ackEvery is the shortest interval between two acks of one till while a backlog waits.
// Without one, every ack goes out at once.
const ackEvery = time.Second

// ackStride is how far a till's watermark may move before its ack goes out even within
// ackEvery: a fifth of the till's shipped window (uplink Options.Window, 500). A till
// draining a backlog of its own alone waits for HQ's ack before it sends beyond its
// window; an ack every ackStride entries keeps it sending while HQ stores the rest of the
// window. In a fleet's storm a batch holds an entry or two of each till, and no till
// gets near it within a second.
const ackStride = 100

// Stats are a consumer's counts since it started.
type Stats struct {
	Stored, Duplicates, Quarantined uint64
	// Acks is how many acks this process published.
	Acks uint64
	// LetGo is how many entries were not held because they lay too far above their
	// till's watermark (Result.LetGo): the tills send them again.
	LetGo uint64
	// Pending is how many received messages wait for a worker (not yet committed).
	Pending int
	// Lag is, for the last commit, how long after the newest of its entries was journaled
	// at the till it was committed here: the delay a sale takes to be safe at HQ, which
	// grows when the consumer falls behind (or the till's clock is off).
	Lag time.Duration
}

// NewConsumer makes a consumer over st.
func NewConsumer(st Store, opts *Options) (*Consumer, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	if u, err := url.Parse(o.Broker); o.Broker == "" || err != nil || u.Host == "" {
		return nil, fmt.Errorf("hq: consumer: %w: broker URL %q", ErrOptions, o.Broker)
	}
	if o.Prefix == "" {
		o.Prefix = wire.DefaultPrefix
	}
	if err := wire.CheckPrefix(o.Prefix); err != nil {
		return nil, fmt.Errorf("hq: consumer: %w: %w", ErrOptions, err)
	}
	persistent := o.ClientID != "" && o.Share == ""
	if o.ClientID == "" {
		h, _ := os.Hostname()
		o.ClientID = fmt.Sprintf("tillhq-%s-%d", h, os.Getpid())
	}
	if o.BatchMax <= 0 {
		o.BatchMax = 1000
	}
	if o.Workers <= 0 {
		o.Workers = 2
	}
	if o.Connections <= 0 {
		o.Connections = 1
	}
	if o.WaitTimeout <= 0 {
		o.WaitTimeout = 10 * time.Second
	}
	if o.BackoffMin <= 0 {
		o.BackoffMin = 200 * time.Millisecond
	}
	if o.BackoffMax < o.BackoffMin {
		o.BackoffMax = 10 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return &Consumer{st: st, o: o, topics: wire.Topics{Prefix: o.Prefix}, persistent: persistent, acked: map[TillKey]uint64{},
		deferred: map[TillKey]uint64{}, ackedAt: map[TillKey]time.Time{}, published: map[TillKey]uint64{}, held: map[TillKey]Held{}}, nil
}

// Stats reads the counts.
func (c *Consumer) Stats() Stats {
	st := Stats{Stored: c.stored.Load(), Duplicates: c.dups.Load(), Quarantined: c.quarantined.Load(), LetGo: c.letGo.Load(),
		Acks: c.acks.Load(), Lag: time.Duration(c.lagNanos.Load())}
	st.Pending = c.pending()
	return st
}

// pending is how many received messages wait for a worker.
func (c *Consumer) pending() int {
	if qs := c.queues.Load(); qs != nil {
		n := 0
		for _, q := range *qs {
			n += len(q)
		}
		return n
	}
	if q := c.queue.Load(); q != nil {
		return len(*q)
	}
	return 0
}

// Run consumes until ctx is done, reconnecting with a jittered backoff. A store failure
// ends the session (messages not yet committed are not acknowledged to the broker, and
// tills resend what HQ has not acknowledged) and is retried like a lost connection.
func (c *Consumer) Run(ctx context.Context) error {
	attempt := 0
	for {
		err := c.session(ctx)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if errors.Is(err, errConnected) {
			attempt = 0
		}
		attempt++
		c.o.Logger.Warn("hq: session ended", "err", err)
		d := c.o.BackoffMin << min(attempt, 16)
		if d > c.o.BackoffMax || d <= 0 {
			d = c.o.BackoffMax
		}
		d = d/2 + time.Duration(rand.Int64N(int64(d/2)+1))
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(d):
		}
	}
}

// errConnected marks a session that got as far as subscribing: the backoff starts over.
var errConnected = errors.New("session was up")

func (c *Consumer) wait(tok mqtt.Token, op string) error {
	return mqttconn.Wait(tok, c.o.WaitTimeout, "hq: "+op)
}

func (c *Consumer) session(ctx context.Context) error {
	lost := make(chan error, 1)
	ins := make([]chan delivery, c.o.Workers)
	for i := range ins {
		ins[i] = make(chan delivery, max(4*c.o.BatchMax/c.o.Workers, c.o.BatchMax))
	}
	c.queues.Store(&ins)
	ended := make(chan struct{})
	defer close(ended)
	handler := c.handOver(ins, ended)
	// PUBACK only after commit (a Consumer session): the broker keeps at most its
	// in-flight limit of uncommitted messages with this consumer, which is also the
	// backpressure. A Consumer's handler runs on paho's router, in the broker's order: over
	// one connection a till's entries reach the workers in seq order, and a handler
	// waiting for a worker stops paho reading the socket, so what HQ holds is bounded by
	// its own queue whatever the broker sends. A broker serving a reconnecting fleet reads
	// each client's socket in turn, so HQ's ping can wait behind its PUBACKs for far longer
	// than a till's would (the session is lost only when nothing arrives at all).
	//
	// With a stable client id and no group shared with other consumers the session is
	// persistent: what the broker queued for this consumer while the connection was down,
	// and what it had sent without a PUBACK, comes to the handler as soon as the
	// connection is accepted. Otherwise it is clean: a consumer that dies must not leave a
	// queue at the broker that nobody reads, or that a shared subscription keeps feeding;
	// what it had not committed, tills resend.
	//
	// With several connections (Options.Connections) each is a member of one shared
	// subscription: the broker reads a client's socket once per round of its loop, one
	// packet at a time, so each connection adds a PUBACK per round.
	n := c.o.Connections
	group := c.o.Share
	if group == "" && n > 1 {
		group = shareGroupOf(fmt.Sprintf("%s-of%d", c.o.ClientID, n))
	}
	filter := wire.Shared(group, c.topics.AllTills(wire.KindTx))
	report := func(err error) {
		select {
		case lost <- err:
		default:
		}
	}
	var clients []mqtt.Client
	defer func() {
		for _, cli := range clients {
			cli.Disconnect(250)
		}
	}()
	for i := range n {
		cli, err := mqttconn.Connect(mqttconn.Session{Kind: mqttconn.Consumer, Broker: c.o.Broker, ClientID: c.connectionID(i),
			Username: c.o.Username, Password: c.o.Password, TLS: c.o.TLS, Timeout: c.o.WaitTimeout,
			PingTimeout: max(c.o.WaitTimeout, hqPingTimeout), Persistent: c.persistent, OnMessage: handler, OnLost: report})
		if err != nil {
			return fmt.Errorf("hq: %w", err)
		}
		clients = append(clients, cli)
		// No handler of the subscription's own: every message goes to OnMessage, whether
		// it comes from this subscription or from the broker's queue of a persistent
		// session.
		if err := c.wait(cli.Subscribe(filter, 1, nil), "subscribe "+filter); err != nil {
			return err
		}
	}
	cli := spread{Client: clients[0], all: clients}
	out := newAckFlow(c, cli)
	c.o.Logger.Info("hq: consuming", "broker", c.o.Broker, "filter", filter, "connections", n)
	// Acks are retained, but a broker without persistence forgets them: publish every
	// till's watermark again on each connect.
	if err := c.republishAcks(ctx, out); err != nil {
		return err
	}

	// Several workers store batches, each of its own stores' messages (handOver): while
	// one waits on the store's commit, the next batch is already being inserted, and
	// neither waits for the other's till and store locks. (Another consumer on a shared
	// subscription still takes the same tills: two batches of one till meet at the till's
	// lock, so watermarks still advance one commit at a time.)
	wctx, stopWorkers := context.WithCancel(ctx)
	var workers sync.WaitGroup
	failed := make(chan error, c.o.Workers)
	for _, in := range ins {
		workers.Add(1)
		go func() {
			defer workers.Done()
			if err := c.worker(wctx, out, in); err != nil {
				failed <- err
			}
		}()
	}
	defer func() { stopWorkers(); workers.Wait() }()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case err := <-lost:
		return fmt.Errorf("hq: connection lost: %w (%w)", err, errConnected)
	case err := <-failed:
		return fmt.Errorf("%w (%w)", err, errConnected)
	}
}

// connectionID is the client id of the consumer's connection i: ClientID when it has one
// connection, ClientID-{i+1}of{n} of n. A persistent session of one count is never
// resumed under another: it would keep the subscription it had (its own share group, or
// none) beside the new one, and a session of the old count left behind would take its
// share of the new group's messages; such a session only waits at the broker, taking a
// copy of the tills' messages, until it expires (persistent_client_expiration).
func (c *Consumer) connectionID(i int) string {
	if c.o.Connections == 1 {
		return c.o.ClientID
	}
	return fmt.Sprintf("%s-%dof%d", c.o.ClientID, i+1, c.o.Connections)
}

// shareGroupOf is the shared subscription group of one consumer's connections: its client
// id with what a group name may not hold replaced.
func shareGroupOf(clientID string) string {
	return strings.Map(func(r rune) rune {
		if r == '/' || r == '+' || r == '#' {
			return '_'
		}
		return r
	}, clientID)
}

// spread publishes over the consumer's connections: every publish to one topic over the
// same one, so that a till's acks reach the broker in the order they were published and
// the retained one is the last. Everything but Publish is the first connection's.
type spread struct {
	mqtt.Client
	all []mqtt.Client
}

func (s spread) Publish(topic string, qos byte, retained bool, payload interface{}) mqtt.Token {
	return s.all[connectionOf(topic, len(s.all))].Publish(topic, qos, retained, payload)
}

// connectionOf is which of n connections publishes to topic: always the same one for a
// topic, so that its messages reach the broker in the order published, and a till's held
// message goes over its ack's connection, ahead of the ack.
func connectionOf(topic string, n int) int {
	key := topic
	if t, ok := strings.CutSuffix(topic, "/"+string(wire.KindHeld)); ok {
		key = t + "/" + string(wire.KindAck)
	}
	h := fnv.New32a()
	h.Write([]byte(key))
	return int(h.Sum32() % uint32(n))
}

// handOver is the subscription's handler. It runs on paho's router goroutine, one message
// at a time in the order received, so it only hands the message over: the workers check
// it. It waits as long as the workers are busy, and gives up only when the session ends
// (the message is then not acknowledged, and the clean session's end discards it at the
// broker). Nothing is PUBACKed before its commit, so the broker's in-flight limit toward
// this client (max_inflight_messages) bounds what is received and not committed; and
// while the handler waits, paho reads nothing more from the socket, so the consumer's
// memory stays bounded (by its queues, 4 x BatchMax in all, what the workers hold back,
// and the batches being stored) whatever the backlog at the broker or its in-flight
// setting. The wait is short (a commit), well within the keep-alive that paho's stalled
// reads would otherwise miss.
//
// Each message goes to the queue of the worker of its store (ins[i], by a hash of the
// store's id in its topic): the workers' batches then never hold the same tills or
// stores, and a batch spans a worker's share of the fleet's tills, so that a till's head
// is locked and written once for more of its entries. (A fleet of one store is drained
// by one worker.) A message whose topic names no store goes to the first.
func (c *Consumer) handOver(ins []chan delivery, ended <-chan struct{}) mqtt.MessageHandler {
	return func(_ mqtt.Client, m mqtt.Message) {
		in := ins[0]
		if len(ins) > 1 {
			in = ins[storeShard(m.Topic(), len(c.o.Prefix), len(ins))]
		}
		select {
		case in <- m:
		case <-ended:
		}
	}
}

// storeShard is the queue, of n, of the store named in topic ({prefix}/{store}/...,
// the prefix skip bytes long): FNV-1a of the store's id, 0 for a topic without one.
func storeShard(topic string, skip, n int) int {
	if len(topic) <= skip || topic[skip] != '/' {
		return 0
	}
	h := uint32(2166136261)
	for i := skip + 1; i < len(topic) && topic[i] != '/'; i++ {
		h = (h ^ uint32(topic[i])) * 16777619
	}
	return int(h % uint32(n))
}

// holdFor bounds how long holdEarly holds an entry back.
const holdFor = 200 * time.Millisecond

// holdEarly moves out of batch, into early, the entries that do not continue their
// till's chain from what this process last committed of it (its watermark in acked,
// then the batch's own entries of the till in seq order): a till's messages spread over
// the consumer's connections (or a shared subscription's members) arrive out of order,
// one connection's stream often hundreds of messages behind the other's, and an entry
// stored above a gap costs the store a read of it (and of its document) under the till's
// lock once the gap closes, and a second write of the till's head. An entry held back
// for holdFor goes with the batch whatever it follows (the entry it waits for may have
// gone to another consumer, or been lost), and so do all of them when more than BatchMax
// are held. While held, an entry is not acknowledged to the broker, so what is held is
// bounded by the broker's in-flight limit, as what waits in the queue is. batch's order
// is kept otherwise; early comes first in the next batch.
func (c *Consumer) holdEarly(batch, early []inbound, now time.Time) ([]inbound, []inbound) {
	var order []int // the batch's entries that may be held, by till and seq
	from := map[TillKey]uint64{}
	held := 0
	for _, im := range batch {
		if !im.heldSince.IsZero() {
			held++
		}
	}
	release := held > c.o.BatchMax
	for i, im := range batch {
		switch {
		case im.in == nil:
		case release || !im.heldSince.IsZero() && now.Sub(im.heldSince) >= holdFor:
			// Going whatever it follows: what follows it continues.
			e := &im.in.Tx.Entry
			k := TillKey{e.Store, e.Till}
			from[k] = max(from[k], e.Seq)
		default:
			order = append(order, i)
		}
	}
	if len(order) == 0 {
		return batch, early
	}
	slices.SortFunc(order, func(a, b int) int {
		ea, eb := &batch[a].in.Tx.Entry, &batch[b].in.Tx.Entry
		if c := tillCmp(TillKey{ea.Store, ea.Till}, TillKey{eb.Store, eb.Till}); c != 0 {
			return c
		}
		return cmp.Compare(ea.Seq, eb.Seq)
	})
	// An entry continues its till when its seq is at most one above the till's
	// watermark, an entry's that goes whatever it follows, or another of the batch's
	// entries that continues.
	hold := make([]bool, len(batch))
	var k TillKey
	var top uint64
	c.ackMu.Lock()
	for n, i := range order {
		e := &batch[i].in.Tx.Entry
		if n == 0 || e.Store != k.Store || e.Till != k.Till {
			k = TillKey{e.Store, e.Till}
			top = max(c.acked[k], from[k])
		}
		if e.Seq > top+1 {
			hold[i] = true
			continue
		}
		top = max(top, e.Seq)
	}
	c.ackMu.Unlock()
	kept := batch[:0]
	for i, im := range batch {
		if hold[i] {
			if im.heldSince.IsZero() {
				im.heldSince = now
			}
			early = append(early, im)
			continue
		}
		kept = append(kept, im)
	}
	return kept, early
}

// batchLinger is the longest a worker waits for more messages when its queue runs dry
// with fewer than a quarter of BatchMax in its batch. A commit costs the store about as
// much for a few entries as for hundreds (its statements, the heads of the tills the
// batch spans, the flush of its log): while a storm's messages trickle in a few at a
// time between a worker's commits, as they do when the tills and the broker, not HQ,
// hold the machine's cores, batches of a few entries each cost several times the CPU
// per entry of full ones. Waiting is bounded and costs only latency (an ack a few
// milliseconds later).
const batchLinger = 5 * time.Millisecond

// worker stores batches until ctx is done or the store fails.
func (c *Consumer) worker(ctx context.Context, out *ackFlow, in <-chan delivery) error {
	batch := make([]inbound, 0, c.o.BatchMax)
	var early []inbound // held back from the last batch: they come first in the next
	for {
		batch = append(batch[:0], early...)
		carried := len(batch) // held back before: the fill counts only what is new
		if len(batch) == 0 {
			select {
			case <-ctx.Done():
				return nil
			case m := <-in:
				batch = append(batch, c.check(m))
			}
		}
		var until time.Time
	fill:
		for len(batch)-carried < c.o.BatchMax {
			select {
			case m := <-in:
				batch = append(batch, c.check(m))
				continue
			default:
			}
			// The queue is dry: a small batch waits a little for more (see
			// batchLinger), a larger one goes.
			if len(batch)-carried >= c.o.BatchMax/4 {
				break
			}
			if until.IsZero() {
				until = time.Now().Add(batchLinger)
			}
			wait := time.Until(until)
			if wait <= 0 {
				break
			}
			timer := time.NewTimer(wait)
			select {
			case m := <-in:
				timer.Stop()
				batch = append(batch, c.check(m))
			case <-timer.C:
				break fill
			case <-ctx.Done():
				timer.Stop()
				return nil
			}
		}
		now := time.Now()
		batch, early = c.holdEarly(batch, early[:0], now)
		if len(batch) == 0 {
			// All held back, and nothing more came: wait for a quarter of a batch more,
			// or for the first of them to be let go (not for each message, which would
			// sort what is held again for each).
			timer := time.NewTimer(early[0].heldSince.Add(holdFor).Sub(now))
		wait:
			for got := 0; got < max(c.o.BatchMax/4, 1); got++ {
				select {
				case m := <-in:
					early = append(early, c.check(m))
				case <-timer.C:
					break wait
				case <-ctx.Done():
					timer.Stop()
					return nil
				}
			}
			timer.Stop()
			continue
		}
		if err := c.process(ctx, out, batch); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
	}
}

// acksDue returns the acks to publish after a commit whose watermarks are through: a
// till's is due when it is higher than what this process published, or the till resent
// entries (it has not seen the ack). While busy (a backlog waits for the workers) a due
// ack within ackEvery of the till's last one and less than ackStride beyond it is
// deferred; each call also returns the
// deferred acks whose time has come, and all of them once the backlog is gone, so the
// last ack of a storm goes out with the batch that empties the queue.
func (c *Consumer) acksDue(through map[TillKey]uint64, resent map[TillKey]bool, busy bool) map[TillKey]uint64 {
	c.ackMu.Lock()
	defer c.ackMu.Unlock()
	now := time.Now()
	due := map[TillKey]uint64{}
	for k, t := range through {
		prev := c.acked[k]
		if t == 0 || !(t > prev || resent[k] && t == prev) {
			continue
		}
		if t > prev {
			c.acked[k] = t
		}
		if busy && now.Sub(c.ackedAt[k]) < ackEvery && t < c.published[k]+ackStride {
			c.deferred[k] = max(c.deferred[k], t)
			continue
		}
		due[k] = t
	}
	for k, t := range c.deferred {
		if !busy || now.Sub(c.ackedAt[k]) >= ackEvery || t >= c.published[k]+ackStride {
			due[k] = max(due[k], t)
		}
	}
	for k, t := range due {
		delete(c.deferred, k)
		c.ackedAt[k] = now
		c.published[k] = max(c.published[k], t)
	}
	return due
}

// heldDue keeps what a commit found held above the watermarks of the tills that resent
// entries (Result.Held), and returns it for the acks due that answer those tills: those
// whose through is the watermark it was found at. A till whose ack is not due yet keeps
// its until its next one.
func (c *Consumer) heldDue(due map[TillKey]uint64, found map[TillKey]Held) map[TillKey]Held {
	c.ackMu.Lock()
	defer c.ackMu.Unlock()
	if len(found) == 0 && len(c.held) == 0 {
		return nil
	}
	for k, h := range found {
		if old, ok := c.held[k]; !ok || h.Through >= old.Through {
			c.held[k] = h
		}
	}
	var out map[TillKey]Held
	for k, t := range due {
		h, ok := c.held[k]
		if !ok || h.Through > t {
			continue
		}
		delete(c.held, k)
		if h.Through == t {
			if out == nil {
				out = map[TillKey]Held{}
			}
			out[k] = h
		}
	}
	return out
}

// ackPayload is the ack for till k through seq, signed when HQ has its key.
func (c *Consumer) ackPayload(k TillKey, through uint64) []byte {
	if c.o.SignKey == nil {
		return wire.EncodeAck(through)
	}
	return wire.SignAck(c.o.SignKey, k.Store, k.Till, through)
}

func (c *Consumer) republishAcks(ctx context.Context, out *ackFlow) error {
	tills, err := c.st.Tills(ctx)
	if err != nil {
		return err
	}
	// Not waited for, like the acks after a commit: the workers start only after this,
	// and until then the handler may be holding paho's reader, which the PUBACKs of these
	// publishes need. The flow keeps at most maxAcksInFlight of them in flight, the rest
	// go as the broker acknowledges those. A lost one is healed by the till's resend; a
	// failed write ends the session through the connection-lost handler.
	for _, t := range tills {
		if t.Through == 0 {
			continue
		}
		out.send(t.TillKey, t.Through, nil)
	}
	return nil
}

// delivery is one received tx message: an MQTT message of the consumer's subscription,
// or a JetStream message of the stream that captures the tills' tx subjects. Ack is called
// only after the message's commit (and its till's ack) and tells the broker or the stream
// that the message is done with.
type delivery interface {
	Topic() string
	Payload() []byte
	Retained() bool
	Ack()
}

// inbound is a received message with the outcome of its checks: either an entry to store
// or a quarantine record.
type inbound struct {
	m  delivery
	in *Incoming
	q  *Quarantine
	// heldSince is when the worker first held the entry back (holdEarly), zero for never.
	heldSince time.Time
}

// check decodes and checks one message; it has no side effects.
func (c *Consumer) check(m delivery) inbound {
	if m.Retained() {
		// A retained tx is left over from a misbehaving publisher; it is quarantined
		// like anything else that is not a plain till message, and cleared after commit
		// so that it does not come back on every connect.
		q := &Quarantine{Source: "mqtt", Topic: m.Topic(), Reason: reasonRetained, Payload: m.Payload()}
		if t, err := c.topics.Parse(m.Topic()); err == nil {
			q.Store, q.Till = t.Store, t.Till
		}
		return inbound{m: m, q: q}
	}
	if len(m.Payload()) == 0 {
		// An empty message is a retained one being cleared (HQ's own clear above,
		// relayed to its subscription): nothing to store or keep.
		return inbound{m: m}
	}
	t, err := c.topics.Parse(m.Topic())
	var tx wire.Tx
	if err == nil {
		if tx, err = wire.DecodeTx(t, m.Payload()); err == nil {
			if err = verifyEntry(c.o.Keys, &tx); err == nil {
				return inbound{m: m, in: &Incoming{Tx: tx, Source: "mqtt"}}
			}
		}
	}
	return inbound{m: m, q: &Quarantine{Source: "mqtt", Topic: m.Topic(), Reason: err.Error(), Payload: m.Payload(),
		Store: t.Store, Till: t.Till, Seq: tx.Entry.Seq}}
}

// process stores and acknowledges one batch.
func (c *Consumer) process(ctx context.Context, out *ackFlow, msgs []inbound) error {
	b := Batch{Limits: c.o.Quarantine, Entries: make([]Incoming, 0, len(msgs))}
	for _, im := range msgs {
		switch {
		case im.in != nil:
			b.Entries = append(b.Entries, *im.in)
		case im.q != nil:
			b.Quarantine = append(b.Quarantine, *im.q)
		}
	}
	res, err := Ingest(ctx, c.st, b)
	if err != nil {
		return err
	}
	var newest time.Time
	for _, e := range b.Entries {
		if e.Tx.Entry.At.After(newest) {
			newest = e.Tx.Entry.At
		}
	}
	if !newest.IsZero() {
		c.lagNanos.Store(int64(max(time.Since(newest), 0)))
	}
	c.stored.Add(uint64(res.Stored))
	c.dups.Add(uint64(res.Duplicates))
	c.quarantined.Add(uint64(res.Quarantined))
	if res.LetGo > 0 {
		c.letGo.Add(uint64(res.LetGo))
		c.o.Logger.Warn("hq: entries far above their till's watermark let go (the till sends them again)", "n", res.LetGo)
	}
	// What the quarantine kept is logged; what its bound dropped, once per window: a
	// flood does not flood the log either.
	for _, f := range res.Refused {
		c.o.Logger.Warn("hq: quarantined", "till", f.TillKey.String(), "kind", f.Kind, "reason", f.Detail)
	}
	for _, a := range res.Alerts {
		c.o.Logger.Error("hq: integrity alert, quarantined", "detail", a)
	}
	if len(res.Dropped) > 0 {
		c.dropMu.Lock()
		if c.dropped == nil {
			c.dropped = map[boundKey]uint64{}
		}
		for _, d := range res.Dropped {
			c.dropped[boundKey{d.TillKey, d.Kind}] += uint64(d.Dropped)
		}
		c.dropMu.Unlock()
		for _, d := range res.Dropped {
			if d.First {
				c.o.Logger.Error("hq: quarantine full: dropping and counting", "till", d.TillKey.String(), "kind", d.Kind, "until", d.Until)
			}
		}
	}
	if c.o.AfterCommit != nil {
		c.o.AfterCommit(res)
	}
	// Committed: now, and only now, the acks, then the PUBACKs.
	busy := c.pending() > 0
	due := c.acksDue(res.Through, res.Resent, busy)
	held := c.heldDue(due, res.Held)
	for k, through := range due {
		// Not waited for: the next batch must not wait on the network (see ackFlow). A
		// lost ack is healed by the till's resend, which HQ answers with the ack again.
		// A held message goes ahead of the ack, over its connection: a till that reads it
		// knows, when the ack answers its probe, what HQ still lacks.
		var hp *Held
		if h, ok := held[k]; ok {
			hp = &h
		}
		out.send(k, through, hp)
	}
	for _, im := range msgs {
		if im.m.Retained() {
			out.cli.Publish(im.m.Topic(), 1, true, []byte{})
		}
		im.m.Ack()
	}
	return nil
}
