package uplink

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"tillbox/ledger"
	"tillbox/ledger/journal"
	"tillbox/uplink/mqttconn"
	"tillbox/uplink/wire"
)

// Ledger record names the uplink keeps in the ledger's named buckets.
const (
	recBucket     = "uplink"
	recOffline    = "offline" // "1" while an offline-start is journaled without its end
	recCatalog    = "catalog" // the catalog in use, as received
	cmdBucket     = "uplink-cmd"
	maxCmdResults = 256
	maxOutEvents  = 100
)

// Client is the till's uplink. Create it with New and start it with Run; its other methods
// are safe for concurrent use from the firmware.
type Client struct {
	l      *ledger.Ledger
	o      Options
	topics wire.Topics
	store  string
	till   string

	running atomic.Bool
	// brokers are Options.Broker's URLs; each connection attempt after a failed one or a
	// lost link uses the next (Run's goroutine only).
	brokers []string
	next    int
	kick    chan struct{} // new entries, acks, events: wake the run loop
	syncNow chan struct{} // the operator or HQ asked to sync now
	catKick chan struct{} // a catalog arrived
	cmds    chan wire.Cmd
	events  chan wire.Event // the uplink's own events, for the firmware

	ackSeen    atomic.Uint64                // highest through received, not yet applied
	ackRepeats atomic.Uint64                // acks received equal to ackSeen: HQ answering a resend
	resends    atomic.Uint64                // resends from the watermark, see State
	probes     atomic.Uint64                // probes sent, see State
	resendLong atomic.Uint64                // of resends, the long fallback's, see State
	sessions   atomic.Uint64                // sessions begun, see State
	again      [againKinds]atomic.Uint64    // entries sent again, by why: see Again
	held       atomic.Pointer[wire.Holding] // the last held message from HQ
	heldN      atomic.Uint64                // held messages received
	heldSeen   atomic.Bool                  // HQ sends held messages: an ack alone answers no probe
	refusedMu  sync.Mutex                   // guards refusedWhy and refusedAt: the last ack-refused alert
	refusedWhy string
	refusedAt  time.Time
	catPending atomic.Pointer[[]byte]
	catalog    atomic.Pointer[wire.Catalog]

	mu        sync.Mutex
	online    bool
	since     time.Time
	sentHigh  uint64
	syncBase  uint64
	lastErr   string
	outEvents []wire.Event
	cmdDone   map[string]wire.CmdResult
	cmdOrder  []string
	offlineJ  bool // an offline-start is journaled and not yet ended
	beyondAck uint64

	// What the broker acknowledged (PUBACK) of the last session: every seq up to
	// pubacked, on brokers[pubBroker] (Run's goroutine only). A session on the same broker
	// sends from there; what the broker lost of it (a restart without persistence, a full
	// queue) a probe finds.
	pubacked  uint64
	pubBroker int

	// The last sale for the status, found once and then kept up to date (lastSale).
	saleMu      sync.Mutex
	saleScanned bool
	saleSeq     uint64
	saleAt      time.Time
}

// New makes a Client for the till whose ledger is l. It loads the catalog in use and the
// remembered command results from the ledger; it does not touch the network.
func New(l *ledger.Ledger, opts *Options) (*Client, error) {
	if l == nil {
		return nil, fmt.Errorf("uplink: new: %w: no ledger", ErrOptions)
	}
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.Broker == "" {
		return nil, fmt.Errorf("uplink: new: %w: no broker URL", ErrOptions)
	}
	var brokers []string
	for _, b := range strings.Split(o.Broker, ",") {
		b = strings.TrimSpace(b)
		if u, err := url.Parse(b); err != nil || u.Host == "" {
			return nil, fmt.Errorf("uplink: new: %w: broker URL %q", ErrOptions, b)
		}
		brokers = append(brokers, b)
	}
	o.defaults(l.Store(), l.Till())
	if err := wire.CheckPrefix(o.Prefix); err != nil {
		return nil, fmt.Errorf("uplink: new: %w: %w", ErrOptions, err)
	}
	c := &Client{
		l: l, o: o, brokers: brokers, topics: wire.Topics{Prefix: o.Prefix}, store: l.Store(), till: l.Till(),
		kick: make(chan struct{}, 1), syncNow: make(chan struct{}, 1), catKick: make(chan struct{}, 1),
		cmds: make(chan wire.Cmd, 64), events: make(chan wire.Event, 64),
		cmdDone: map[string]wire.CmdResult{}, since: o.Clock(), pubBroker: -1,
	}
	if v, err := l.Record(recBucket, recOffline); err == nil {
		c.offlineJ = string(v) == "1"
	} else if !errors.Is(err, ledger.ErrNotFound) {
		return nil, fmt.Errorf("uplink: new: %w", err)
	}
	if raw, err := l.Record(recBucket, recCatalog); err == nil {
		cat, derr := c.decodeCatalog(raw)
		if derr != nil {
			// Kept in the ledger by an older build that accepted it: not used, and said so.
			o.Logger.Warn("uplink: stored catalog no longer valid; running without one", "err", derr)
		} else {
			c.catalog.Store(cat)
		}
	} else if !errors.Is(err, ledger.ErrNotFound) {
		return nil, fmt.Errorf("uplink: new: %w", err)
	}
	if err := c.loadCmdResults(); err != nil {
		return nil, err
	}
	if w, err := l.Watermark(); err == nil {
		c.syncBase = w
		c.sentHigh = w
	}
	return c, nil
}

// Notify tells the uplink that the ledger has new entries. It never blocks; without it new
// entries are found within Options.PollInterval.
func (c *Client) Notify() { poke(c.kick) }

// SyncNow asks for an immediate attempt: a connection attempt without waiting out the
// backoff when offline, a resend from the watermark when online. It restarts the progress
// count shown to the operator. It never blocks.
func (c *Client) SyncNow() {
	if w, err := c.l.Watermark(); err == nil {
		c.mu.Lock()
		c.syncBase = w
		c.mu.Unlock()
	}
	poke(c.syncNow)
}

// Catalog is the catalog in use, or nil before the first one was received. The returned
// value is shared and must not be modified; a newer catalog replaces it as a whole.
func (c *Client) Catalog() *wire.Catalog { return c.catalog.Load() }

// CatalogSource is what the firmware needs of the uplink to price sales.
type CatalogSource interface {
	Catalog() *wire.Catalog
}

var _ CatalogSource = (*Client)(nil)

// Events delivers the alerts the uplink raises itself (catalog applied or rejected,
// integrity errors, long outages), so the firmware can show them. Events that arrive when
// the channel is full are dropped for this channel; they are still published.
func (c *Client) Events() <-chan wire.Event { return c.events }

// Alert publishes an event to the fleet (paper out, drawer left open, ...). While offline,
// the last 100 events are kept in memory and published on reconnect. It never blocks.
func (c *Client) Alert(e wire.Event) {
	if e.At.IsZero() {
		e.At = c.o.Clock()
	}
	c.mu.Lock()
	if len(c.outEvents) >= maxOutEvents {
		c.outEvents = c.outEvents[1:]
	}
	c.outEvents = append(c.outEvents, e)
	c.mu.Unlock()
	poke(c.kick)
}

// raise is Alert plus delivery to Events.
func (c *Client) raise(kind, severity, detail string) {
	e := wire.Event{Kind: kind, Severity: severity, Detail: detail, At: c.o.Clock()}
	c.o.Logger.Info("uplink: event", "kind", kind, "detail", detail)
	select {
	case c.events <- e:
	default:
	}
	c.Alert(e)
}

// State is the uplink's state for the operator display and the status message.
type State struct {
	Online    bool
	Since     time.Time // when the link came up or went down
	LastSeq   uint64    // last entry written to the ledger
	Watermark uint64    // every seq at or below it is stored at HQ
	Progress  Progress
	Catalog   uint64 // version of the catalog in use, 0 for none
	LastError string // why the last connection attempt or session ended
	// Resends counts the times the outstanding entries were sent again from the
	// watermark while a session was up: HQ answered a probe and lacked some of them, or
	// the long fallback (see Options.ResendAfter). A reconnect's sending is not counted.
	Resends uint64
	// Probes counts the probes: the last entry sent, sent again because HQ's watermark
	// had not moved for the resend timeout (Options.ResendAfter).
	Probes uint64
	// ResendsLong counts those of Resends that were the long fallback: the sixth resend
	// timeout in a row without progress.
	ResendsLong uint64
	// Sessions counts the sessions begun since New: each connect after the first one
	// followed a lost link.
	Sessions uint64
	// Again counts the entries sent more than once, by why.
	Again Again
	// Held counts HQ's held messages received (see wire.KindHeld).
	Held uint64
}

// Again counts entries sent again: as probes, after an answered probe found HQ lacking
// them, by the long fallback, at the start of a session (sent in an earlier one and not
// acknowledged by the same broker), and when asked to (SyncNow).
type Again struct {
	// Gap: after an answered probe, the entries HQ said it lacked (its held message);
	// Blind: after one, the entries of a range in which HQ said it lacks some without
	// saying which (a range too wide for a map), copies among them; Answered: after one
	// without a held message, everything from the watermark.
	Probe, Gap, Blind, Answered, Long, Reconnect, Asked uint64
}

const (
	againProbe = iota
	againGap
	againBlind
	againAnswered
	againLong
	againReconnect
	againAsked
	againKinds
)

// Progress of the current sync, counted from the watermark when it began (SyncNow, or the
// last moment nothing was pending): entries sent, acknowledged by HQ, and to do in all.
type Progress struct {
	Sent, Acked, Total uint64
}

// State reads the current state. It reads the ledger and never blocks on the network.
func (c *Client) State() State {
	last, _ := c.l.LastSeq()
	wm, _ := c.l.Watermark()
	c.mu.Lock()
	defer c.mu.Unlock()
	s := State{Online: c.online, Since: c.since, LastSeq: last, Watermark: wm, LastError: c.lastErr, Resends: c.resends.Load(), Probes: c.probes.Load(),
		ResendsLong: c.resendLong.Load(), Sessions: c.sessions.Load(),
		Again: Again{Probe: c.again[againProbe].Load(), Gap: c.again[againGap].Load(), Blind: c.again[againBlind].Load(), Answered: c.again[againAnswered].Load(), Long: c.again[againLong].Load(),
			Reconnect: c.again[againReconnect].Load(), Asked: c.again[againAsked].Load()}, Held: c.heldN.Load()}
	if cat := c.catalog.Load(); cat != nil {
		s.Catalog = cat.Version
	}
	base := c.syncBase
	if base > wm {
		base = wm
	}
	s.Progress.Total = last - base
	s.Progress.Acked = wm - base
	sent := c.sentHigh
	if sent < wm {
		sent = wm
	}
	if sent > last {
		sent = last
	}
	s.Progress.Sent = sent - base
	return s
}

// Run connects and keeps the till in sync until ctx is done. It returns ctx's error, or
// an error when the ledger fails. Run may be called again after it returned.
func (c *Client) Run(ctx context.Context) error {
	if !c.running.CompareAndSwap(false, true) {
		return fmt.Errorf("uplink: run: %w", ErrRunning)
	}
	defer c.running.Store(false)
	attempt := 0
	downSince := c.o.Clock()
	c.setOnline(false, downSince, "")
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		cli, err := c.connect()
		lostLink := err == nil
		c.next++ // the next attempt, after this one failed or its link is lost, on the next broker
		if err == nil {
			attempt = 0
			serr := c.session(ctx, cli, downSince)
			downSince = c.o.Clock()
			c.setOnline(false, downSince, errText(serr))
			if ctx.Err() != nil {
				return ctx.Err()
			}
			var fatal *fatalError
			if errors.As(serr, &fatal) {
				return fatal.err
			}
			c.o.Logger.Warn("uplink: link lost", "err", serr)
		} else {
			c.setOnline(false, downSince, err.Error())
			c.o.Logger.Debug("uplink: connect failed", "err", err)
		}
		// Wait out a jittered, capped backoff, journaling the outage once it has lasted
		// OfflineAfter. SyncNow cuts the wait short.
		attempt++
		wait := c.backoff(attempt)
		if attempt == 1 && lostLink {
			wait = c.spread()
		}
		deadline := time.NewTimer(wait)
		for waiting := true; waiting; {
			var journal <-chan time.Time
			if !c.offlineJournaled() {
				d := c.o.OfflineAfter - c.o.Clock().Sub(downSince)
				if d < 0 {
					d = 0
				}
				journal = time.After(d)
			}
			select {
			case <-ctx.Done():
				deadline.Stop()
				return ctx.Err()
			case <-c.syncNow:
				waiting = false
			case <-deadline.C:
				waiting = false
			case <-journal:
				if err := c.journalOffline(downSince); err != nil {
					deadline.Stop()
					return err
				}
			case <-c.kick:
				// new entries while offline: nothing to do until the link is back.
			}
		}
		deadline.Stop()
	}
}

// fatalError ends Run: the ledger failed, so syncing cannot continue meaningfully.
type fatalError struct{ err error }

func (f *fatalError) Error() string { return f.err.Error() }

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func (c *Client) backoff(attempt int) time.Duration {
	d := c.o.BackoffMin
	for i := 1; i < attempt && d < c.o.BackoffMax; i++ {
		d *= 2
	}
	if d > c.o.BackoffMax {
		d = c.o.BackoffMax
	}
	// Full jitter over the upper half: a fleet that lost the same broker does not come
	// back in lockstep.
	return d/2 + time.Duration(rand.Int64N(int64(d/2)+1))
}

// spread is the wait before the first attempt after a lost link: uniform over
// [0, ReconnectJitter], at most BackoffMax.
func (c *Client) spread() time.Duration {
	j := min(c.o.ReconnectJitter, c.o.BackoffMax)
	return time.Duration(rand.Int64N(int64(j) + 1))
}

func (c *Client) setOnline(on bool, since time.Time, lastErr string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.online != on {
		c.since = since
	}
	c.online = on
	if lastErr != "" || on {
		c.lastErr = lastErr
	}
}

func (c *Client) offlineJournaled() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.offlineJ
}

// journalOffline writes the offline-start entry, dated when the link went down.
func (c *Client) journalOffline(downSince time.Time) error {
	_, err := c.l.Append(journal.Entry{Kind: journal.KindOfflineStart, At: downSince, Reason: "uplink lost"},
		ledger.Put(recBucket, recOffline, []byte("1")))
	if err != nil {
		return fmt.Errorf("uplink: journal offline start: %w", err)
	}
	c.mu.Lock()
	c.offlineJ = true
	c.mu.Unlock()
	return nil
}

// journalOnline closes a journaled outage.
func (c *Client) journalOnline(downSince time.Time) error {
	if !c.offlineJournaled() {
		return nil
	}
	d := c.o.Clock().Sub(downSince).Round(time.Second)
	_, err := c.l.Append(journal.Entry{Kind: journal.KindOfflineEnd, Reason: "uplink back after " + d.String()},
		ledger.Put(recBucket, recOffline, []byte("0")))
	if err != nil {
		return fmt.Errorf("uplink: journal offline end: %w", err)
	}
	c.mu.Lock()
	c.offlineJ = false
	c.mu.Unlock()
	if d > c.o.LongOffline {
		c.raise(wire.EventLongOffline, wire.SeverityWarning, "offline for "+d.String())
	}
	return nil
}

// connect makes a new paho client and connects it once. A fresh client per session keeps
// nothing from a dead connection: the ledger, not paho, remembers what is unsent.
func (c *Client) connect() (*sessionClient, error) {
	s := &sessionClient{lost: make(chan struct{})}
	// Clean session: the broker keeps nothing for the till while it is away. The outbox is
	// the ledger and the state is in retained messages (ack, catalog), so a persistent
	// session would only let the broker queue stale commands for days.
	broker := c.brokers[c.next%len(c.brokers)]
	cli, err := mqttconn.Connect(mqttconn.Session{Kind: mqttconn.Till, Broker: broker, ClientID: c.o.ClientID,
		Username: c.o.Username, Password: c.o.Password, TLS: c.o.TLS, KeepAlive: c.o.KeepAlive, Timeout: c.o.WaitTimeout,
		Will:   &mqttconn.Will{Topic: c.topics.Status(c.store, c.till), Payload: wire.LostWill(), Retained: true},
		OnLost: s.markLost})
	if err != nil {
		return nil, fmt.Errorf("uplink: %w", err)
	}
	s.cli = cli
	return s, nil
}

// sessionClient is one connection.
type sessionClient struct {
	cli     mqtt.Client
	lost    chan struct{}
	once    sync.Once
	lostErr atomic.Pointer[error]
}

func (s *sessionClient) markLost(err error) {
	if err == nil {
		err = errors.New("connection closed")
	}
	s.lostErr.Store(&err)
	s.once.Do(func() { close(s.lost) })
}

func (s *sessionClient) err() error {
	if p := s.lostErr.Load(); p != nil {
		return fmt.Errorf("uplink: connection lost: %w", *p)
	}
	return errors.New("uplink: connection lost")
}

func (c *Client) wait(tok mqtt.Token, op string) error {
	return mqttconn.Wait(tok, c.o.WaitTimeout, "uplink: "+op)
}

// subscribeQoS is the QoS of the till's subscriptions (ack, cmd, catalog, desired): 0.
// Its session is clean, so no broker keeps anything for it while it is away, at either
// QoS; what it must find at a connect is retained (ack, catalog, desired) and is sent at
// every subscribe; an ack lost with a dropped link is superseded by the retained one at
// the next connect, and one lost otherwise by the next ack or by HQ's answer to the
// probe after ResendAfter (it acknowledges the probed entry again). QoS 1 would add nothing and costs on a NATS
// cluster a replicated JetStream consumer per subscription, made at every connect and
// deleted at every disconnect: 1,000 tills connecting at once could not all get theirs
// within NATS's 4 s (nats-server 2.9's MQTT side; a QoS 0 subscription is a plain one).
const subscribeQoS = 0

// session runs one connection until it is lost or ctx is done.
func (c *Client) session(ctx context.Context, s *sessionClient, downSince time.Time) error {
	defer s.cli.Disconnect(250)
	ackTopic := c.topics.Ack(c.store, c.till)
	subs := []struct {
		topic string
		h     mqtt.MessageHandler
	}{
		{ackTopic, c.onAck},
		{c.topics.Till(c.store, c.till, wire.KindHeld), c.onHeld},
		{c.topics.Cmd(c.store, c.till), c.onCmd},
		{c.topics.Catalog(c.store), c.onCatalog},
	}
	if c.o.Desired != nil {
		subs = append(subs, struct {
			topic string
			h     mqtt.MessageHandler
		}{c.topics.Desired(c.store, c.till), c.onDesired})
	}
	for _, sub := range subs {
		if err := c.wait(s.cli.Subscribe(sub.topic, subscribeQoS, sub.h), "subscribe "+sub.topic); err != nil {
			// A refused ack, command or desired subscription ends the session (nothing
			// would arrive on it); a refused catalog or held one does not: a till the
			// broker's ACL does not name yet still syncs (without held messages, an
			// answered probe sends again from the watermark).
			optional := sub.topic == c.topics.Catalog(c.store) || sub.topic == c.topics.Till(c.store, c.till, wire.KindHeld)
			if !errors.Is(err, mqttconn.ErrSubscribeRefused) || !optional {
				return err
			}
			c.o.Logger.Warn("uplink: subscription refused", "topic", sub.topic, "err", err)
		}
	}
	c.setOnline(true, c.o.Clock(), "")
	c.sessions.Add(1)
	c.o.Logger.Info("uplink: online", "broker", c.brokers[(c.next-1)%len(c.brokers)])
	if err := c.journalOnline(downSince); err != nil {
		return &fatalError{err}
	}

	cmdCtx, stopCmds := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); c.commandWorker(cmdCtx, s) }()
	defer func() { stopCmds(); wg.Wait() }()

	p := &publisher{c: c, s: s, topic: c.topics.Tx(c.store, c.till), broker: (c.next - 1) % len(c.brokers)}
	if err := p.start(); err != nil {
		return &fatalError{err}
	}
	defer p.end()
	if err := c.publishStatus(s, wire.StateOnline); err != nil {
		return err
	}
	poll := time.NewTicker(c.o.PollInterval)
	defer poll.Stop()
	status := time.NewTicker(c.o.StatusInterval)
	defer status.Stop()
	for {
		if err := p.step(); err != nil {
			return err
		}
		if err := c.flushEvents(s); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			// A clean goodbye: the retained status says stopped rather than lost.
			_ = c.publishStatus(s, wire.StateStopped)
			return ctx.Err()
		case <-s.lost:
			return s.err()
		case <-c.kick:
		case <-c.syncNow:
			p.resend(againAsked)
		case <-poll.C:
		case <-status.C:
			if err := c.publishStatus(s, wire.StateOnline); err != nil {
				return err
			}
		case <-c.catKick:
			c.applyCatalog()
		}
		if p.drained() {
			if err := c.publishStatus(s, wire.StateOnline); err != nil {
				return err
			}
		}
	}
}

// publisher is the outbox drain of one session.
//
// While the session is up, what the till sent stays sent: in a fleet's storm a message may
// wait minutes in the broker's queue toward HQ, and sending it again would queue a
// duplicate behind it. When HQ's watermark has not moved for the resend timeout, the till
// sends a probe instead: its last entry sent, once (the same entry again at the next
// timeout, while it is unanswered). The broker queues it behind everything the till sent
// before, so HQ answers it (an ack, published again because HQ already had the entry) only
// after it has taken in what was still queued ahead of it, on that connection. With the
// ack HQ publishes a held message: what it holds above the watermark, and which entries
// there it lacks (wire.Ack). It lacks at least the entries from the watermark up to the
// first it holds: the broker lost them, or they still wait on another of HQ's
// connections. If they were late, the watermark moves before the next probe is answered;
// if a second answer finds the watermark where it was, only the entries HQ lacks are sent
// again, all in one round, so that what was merely late costs those, not the window. A
// held message that shows HQ has not taken in the probe yet says the till's entries are
// queued: nothing is sent. An HQ that sends no held message (an older one, or a store
// without its tops) is answered as before, once two probes were answered by an ack alone:
// everything from the watermark is sent again. A probe that brings
// no answer is followed by another after twice the wait, up to 8 times the timeout; every
// fullEvery-th timeout without progress also sends the first entry above the watermark,
// which moves it if the broker lost that one (never the window: a storm's queue outlasts
// any such timer, and a window sent again for every till whose entries still wait stalls
// HQ on copies).
type publisher struct {
	c         *Client
	s         *sessionClient
	topic     string
	broker    int       // the session's index in c.brokers
	wm        uint64    // watermark as last read or confirmed
	next      uint64    // next seq to send
	progress  time.Time // last time the watermark moved, or sending began from idle, or a probe went
	idle      int       // resend timeouts since the watermark last moved
	probing   bool      // a probe is out and HQ has not answered it
	probeMark uint64    // c.ackRepeats when the probe went
	probeWM   uint64    // the watermark when the probe went
	probeSeq  uint64    // the probe's (last) seq
	probeHeld uint64    // c.heldN when the probe went, or when its last held message was read
	plainSeen bool      // since the watermark last moved, an ack alone answered a probe
	queued    bool      // since the watermark last moved, a held message showed a probe still queued
	ownGap    bool      // a gap was sent again since the watermark last moved
	gapSeen   bool      // since the watermark last moved, an answered probe showed a gap
	caughtUp  bool      // nothing pending at the last step
	announce  bool      // backlog just reached zero: publish a status
	buf       [][]byte
	seqs      []uint64
	// inflight are the publishes of this session the broker has not been seen to
	// acknowledge yet, in seq order; pubacked is the highest seq up to which it has.
	inflight []pubTok
	pubacked uint64
}

type pubTok struct {
	seq uint64
	tok mqtt.Token
}

// fullEvery: every fullEvery-th resend timeout in a row without progress sends the first
// entry above the watermark with the probe.
const fullEvery = 6

func (p *publisher) start() error {
	wm, err := p.c.l.Watermark()
	if err != nil {
		return err
	}
	// After a reconnect everything above the watermark is sent again, except what the
	// same broker acknowledged in the last session: the broker still has it (queued for
	// HQ's session), or lost it in a restart, which the first probe finds.
	p.wm, p.next, p.progress = wm, wm+1, p.c.o.Clock()
	if p.c.pubBroker == p.broker && p.c.pubacked > wm {
		p.next = p.c.pubacked + 1
	}
	p.pubacked = p.next - 1
	p.c.mu.Lock()
	if p.c.sentHigh >= p.next {
		p.c.again[againReconnect].Add(p.c.sentHigh - p.next + 1)
	}
	p.c.sentHigh = p.next - 1
	p.c.mu.Unlock()
	return nil
}

// end keeps what the broker acknowledged of this session for the next one.
func (p *publisher) end() {
	p.brokerAcks()
	p.c.pubacked, p.c.pubBroker = max(p.pubacked, p.wm), p.broker
}

// brokerAcks moves pubacked over the publishes the broker has acknowledged.
func (p *publisher) brokerAcks() {
	i := 0
	for ; i < len(p.inflight); i++ {
		f := p.inflight[i]
		if f.seq > p.wm {
			select {
			case <-f.tok.Done():
				if f.tok.Error() != nil {
					// Not acknowledged: the connection is gone; the next session sends it.
					p.inflight = p.inflight[:0]
					return
				}
			default:
				p.inflight = p.inflight[i:]
				return
			}
		}
		p.pubacked = max(p.pubacked, f.seq)
	}
	p.inflight = p.inflight[:0]
}

// resend sends everything outstanding again from the watermark; why counts them.
func (p *publisher) resend(why int) {
	if p.next > p.wm+1 {
		p.c.again[why].Add(p.next - 1 - p.wm)
	}
	p.next = p.wm + 1
	p.progress = p.c.o.Clock()
	p.probing = false
	p.inflight = p.inflight[:0]
	p.pubacked = p.wm
}

func (p *publisher) drained() bool {
	a := p.announce
	p.announce = false
	return a
}

// probe sends the last entry sent again, or the entry of the last probe while that is
// above the watermark: a probe that reached HQ first (the broker lost the entry, or it
// waits on another of HQ's connections) is stored and not answered, and the next one is
// then a copy of what HQ has, which it answers, even when the till has sent more since.
// With first, or a watermark of 0, it sends the first entry above the watermark too: HQ
// publishes an ack only for a watermark above 0, and that entry, when the broker lost it,
// moves the watermark (and when it did not, HQ answers the duplicate).
func (p *publisher) probe(first bool) error {
	c := p.c
	last := p.next - 1
	if p.probeSeq > p.wm && p.probeSeq < last {
		last = p.probeSeq
	}
	seqs := []uint64{last}
	if (first || p.wm == 0) && last > p.wm+1 {
		seqs = []uint64{p.wm + 1, last}
		if first {
			c.again[againLong].Add(1)
		}
	}
	p.probing, p.probeMark, p.probeWM, p.probeSeq = true, c.ackRepeats.Load(), p.wm, last
	p.probeHeld = c.heldN.Load()
	c.probes.Add(1)
	qos := byte(1)
	if c.o.TxQoS0 {
		qos = 0 // as the entries (see Options.TxQoS0): on NATS a QoS 1 probe fails the connection when it waits over 4 s
	}
	for _, seq := range seqs {
		var raw []byte
		err := c.l.AfterRaw(seq-1, 1, func(_ uint64, r []byte) bool { raw = bytes.Clone(r); return false })
		if err != nil {
			return &fatalError{fmt.Errorf("uplink: read outbox: %w", err)}
		}
		if raw == nil {
			continue
		}
		if seq == last || !first {
			c.again[againProbe].Add(1) // the first at a watermark of 0 too; the long fallback's is counted as Long
		}
		tok := p.s.cli.Publish(p.topic, qos, false, raw)
		select {
		case <-tok.Done():
			if err := tok.Error(); err != nil {
				return fmt.Errorf("uplink: publish probe seq %d: %w", seq, err)
			}
		default:
		}
	}
	return nil
}

// sendLacking sends again (they were sent in this session), without moving what is sent
// next, the entries from..to that h does not say HQ holds: those it says HQ lacks counted
// as Gap, those it does not say about as Blind.
func (p *publisher) sendLacking(from, to uint64, h *wire.Holding) error {
	if to < from {
		return nil
	}
	c := p.c
	n := int(min(to-from+1, uint64(c.o.Window)))
	var block []byte
	var raws [][]byte
	var blind uint64
	err := c.l.AfterRaw(from-1, n, func(seq uint64, raw []byte) bool {
		if seq > to {
			return false
		}
		lacks, said := h.Lacks(seq)
		if said && !lacks {
			return true
		}
		if !said {
			blind++
		}
		off := len(block)
		block = append(block, raw...)
		raws = append(raws, block[off:len(block):len(block)])
		return true
	})
	if err != nil {
		return &fatalError{fmt.Errorf("uplink: read outbox: %w", err)}
	}
	// The block's earlier payloads stay valid: a grown block is a new array, and each
	// slice keeps the one it was cut from.
	qos := byte(1)
	if c.o.TxQoS0 {
		qos = 0
	}
	c.again[againGap].Add(uint64(len(raws)) - blind)
	c.again[againBlind].Add(blind)
	for _, raw := range raws {
		tok := p.s.cli.Publish(p.topic, qos, false, raw)
		select {
		case <-tok.Done():
			if err := tok.Error(); err != nil {
				return fmt.Errorf("uplink: publish an entry again: %w", err)
			}
		default:
		}
	}
	return nil
}

// step applies HQ's acks, probes or resends on timeout, and fills the window.
func (p *publisher) step() error {
	c := p.c
	// The repeats and held messages before the ack: an answer read here comes with its
	// watermark.
	repeats, heldN := c.ackRepeats.Load(), c.heldN.Load()
	if a := c.ackSeen.Load(); a > p.wm {
		moved, err := c.l.Confirm(a)
		switch {
		case errors.Is(err, ledger.ErrAckBeyondEnd):
			// Forget it, so that it cannot shadow the real acks that follow.
			c.ackSeen.CompareAndSwap(a, p.wm)
			c.mu.Lock()
			first := c.beyondAck != a
			c.beyondAck = a
			c.mu.Unlock()
			if first {
				c.raise(wire.EventIntegrityError, wire.SeverityError,
					fmt.Sprintf("HQ acknowledged through seq %d, beyond this ledger's end: another box may use this till id", a))
			}
		case err != nil:
			return &fatalError{fmt.Errorf("uplink: confirm through %d: %w", a, err)}
		case moved:
			p.wm = a
			p.progress = c.o.Clock()
			if !p.ownGap {
				// Progress of HQ's own. What a gap sent again brought does not shorten
				// the next wait: the entries may only have been late, and a till whose
				// entries wait behind a slow connection would otherwise send the next
				// gap at every timeout.
				p.idle = 0
			}
			p.queued, p.ownGap, p.gapSeen, p.plainSeen = false, false, false, false
		}
	}
	if p.next <= p.wm {
		p.next = p.wm + 1
	}
	p.brokerAcks()
	now := c.o.Clock()
	h := c.held.Load()
	switch {
	case p.next == p.wm+1:
		p.probing = false
	case p.probing && (repeats != p.probeMark || heldN != p.probeHeld) && p.wm != p.probeWM:
		// Answered while the watermark moves: the answer may have come through one of
		// HQ's connections while the till's entries still wait on another. The timer
		// probes again if it stops.
		p.probing = false
	case p.probing && heldN != p.probeHeld && h != nil && h.Through == p.wm && h.To < p.probeSeq:
		// HQ answered something sent before the probe: the probe still waits at the
		// broker behind the till's entries, which are queued, not lost.
		p.probeHeld, p.probeMark = heldN, repeats
		p.queued = true
	case p.probing && heldN != p.probeHeld && h != nil && h.Through == p.wm && !p.gapSeen:
		// HQ has taken in the probe and holds entries up to it or beyond, and none from
		// the watermark up to h.From (and perhaps not all above): the broker lost those,
		// or they still wait on another of HQ's connections. Nothing is sent yet: if they
		// are queued, the watermark moves before the next probe is answered.
		p.probing, p.gapSeen = false, true
	case p.probing && heldN != p.probeHeld && h != nil && h.Through == p.wm:
		// A second probe taken in without the watermark moving in between: the entries
		// HQ lacks are lost, or wait behind a connection that has stalled. Only they are
		// sent again, all in one round (a gap below what HQ holds and the losses
		// scattered above it: a consumer killed with its share of a shared
		// subscription's messages), so at most those are repeated if they were only
		// late. Where HQ says it lacks some of its range without saying which, the whole
		// range goes; an HQ that gives no count (one before it) said only the gap below
		// held_from.
		to := p.next - 1
		switch {
		case h.From != 0 && h.Count == 0:
			to = min(to, h.From-1)
		case h.From != 0:
			to = min(to, h.To)
		}
		c.o.Logger.Info("uplink: HQ lacks entries the till sent; sending them again", "watermark", p.wm, "to", to,
			"held_from", h.From, "held_to", h.To, "held_count", h.Count)
		p.probing, p.ownGap = false, true
		c.resends.Add(1)
		if err := p.sendLacking(p.wm+1, to, h); err != nil {
			return err
		}
		p.progress = now
	case p.probing && repeats != p.probeMark && c.heldSeen.Load():
		// An HQ that sends held messages answers with one; an ack repeated alone is
		// something else (a reconnect's retained ack, HQ's acks published again).
		p.probeMark = repeats
	case p.probing && repeats != p.probeMark && !p.plainSeen:
		// An ack alone, from an HQ that has sent no held message yet: an older HQ's
		// answer, or one whose held message comes another way (several connections, a
		// cluster), or an ack repeated by a second consumer catching up with the first.
		// The next probe tells.
		p.probing, p.plainSeen = false, true
	case p.probing && repeats != p.probeMark:
		// A second probe answered by an ack alone without the watermark moving: an older
		// HQ has taken in what was queued ahead of the probe, and still lacks some.
		c.o.Logger.Info("uplink: HQ lacks entries the broker took; resending from the watermark", "watermark", p.wm, "next", p.next)
		c.resends.Add(1)
		p.resend(againAnswered)
	case now.Sub(p.progress) >= c.o.ResendAfter<<min(p.idle, 3):
		p.idle++
		long := p.idle%fullEvery == 0 && !p.queued
		if long {
			c.o.Logger.Info("uplink: no ack for long; sending the first entry above the watermark with the probe", "watermark", p.wm, "next", p.next)
			c.resends.Add(1)
			c.resendLong.Add(1)
		}
		p.progress = now
		if err := p.probe(long); err != nil {
			return err
		}
	}
	// Signed arithmetic: on 32-bit ARM an unsigned difference would not fit an int.
	room64 := int64(p.wm) + int64(c.o.Window) + 1 - int64(p.next)
	if room64 <= 0 {
		return nil
	}
	room := int(room64)
	if p.next == p.wm+1 {
		p.progress = now // nothing outstanding: the resend clock starts with this send
	}
	p.buf, p.seqs = p.buf[:0], p.seqs[:0]
	// raw is only valid during the call, and paho keeps the payload until PUBACK: the
	// payloads are copied into one block per call, which lives until the last of them is
	// acknowledged (one allocation for a window instead of one per entry).
	// Blocks start at 4 KiB (a sale or two, as a till sells) and double up to 64 KiB (a
	// hundred entries, as a backlog drains).
	var block []byte
	size := 4 << 10
	err := c.l.AfterRaw(p.next-1, room, func(seq uint64, raw []byte) bool {
		if cap(block)-len(block) < len(raw) {
			block = make([]byte, 0, max(len(raw), size))
			size = min(2*size, 64<<10)
		}
		off := len(block)
		block = append(block, raw...)
		p.buf = append(p.buf, block[off:len(block):len(block)])
		p.seqs = append(p.seqs, seq)
		return true
	})
	if err != nil {
		return &fatalError{fmt.Errorf("uplink: read outbox: %w", err)}
	}
	pending := len(p.seqs) > 0 || p.next > p.wm+1
	if !pending {
		if !p.caughtUp {
			p.announce = true
		}
		p.caughtUp = true
		c.mu.Lock()
		c.syncBase = p.wm
		c.mu.Unlock()
		return nil
	}
	p.caughtUp = false
	qos := byte(1)
	if c.o.TxQoS0 {
		qos = 0
	}
	for i, raw := range p.buf {
		tok := p.s.cli.Publish(p.topic, qos, false, raw)
		// The token is not waited for: its completion only means the broker has the
		// message. An immediate failure means the connection is gone.
		select {
		case <-tok.Done():
			if err := tok.Error(); err != nil {
				return fmt.Errorf("uplink: publish seq %d: %w", p.seqs[i], err)
			}
		default:
		}
		p.inflight = append(p.inflight, pubTok{p.seqs[i], tok})
		p.next = p.seqs[i] + 1
	}
	c.mu.Lock()
	if p.next-1 > c.sentHigh {
		c.sentHigh = p.next - 1
	}
	c.mu.Unlock()
	return nil
}

// onAck runs on a paho goroutine: it records the highest through and wakes the loop.
func (c *Client) onAck(_ mqtt.Client, m mqtt.Message) {
	if len(m.Payload()) == 0 {
		return // the retained ack was cleared
	}
	var through uint64
	var err error
	if c.o.HQKey != nil {
		// Anyone else who can publish here (a compromised broker, a leaked account) could
		// otherwise make unsent sales count as stored at HQ, and so prunable.
		through, err = wire.DecodeSignedAck(m.Payload(), c.o.HQKey, c.store, c.till)
	} else {
		through, err = wire.DecodeAck(m.Payload())
	}
	if err != nil {
		// Refused, but an answer all the same: an HQ whose acks this till cannot take
		// still shows a probe that it has taken in what was queued ahead of it. At worst
		// (a forger) it costs a resend of the window, never a watermark.
		c.ackRepeats.Add(1)
		poke(c.kick)
		c.refuseAck(err)
		return
	}
	for {
		cur := c.ackSeen.Load()
		if through == cur {
			// Published again: HQ answers a resend (a probe) it already had. (A lower one
			// is older: HQ's workers may publish their acks out of commit order.)
			c.ackRepeats.Add(1)
			break
		}
		if through < cur {
			break
		}
		if c.ackSeen.CompareAndSwap(cur, through) {
			break
		}
	}
	poke(c.kick)
}

// onHeld runs on a paho goroutine: it records a held message (and its through, as an
// ack's) and wakes the loop. One it cannot take is ignored: the ack that goes with it
// still answers the probe.
func (c *Client) onHeld(_ mqtt.Client, m mqtt.Message) {
	var a wire.Ack
	var err error
	if c.o.HQKey != nil {
		a, err = wire.DecodeSignedAckMessage(m.Payload(), c.o.HQKey, c.store, c.till)
	} else {
		a, err = wire.DecodeAckMessage(m.Payload())
	}
	h, ok := a.Holding()
	if err != nil || !ok {
		c.o.Logger.Debug("uplink: held message ignored", "err", err)
		return
	}
	through := h.Through
	for {
		cur := c.ackSeen.Load()
		if through <= cur || c.ackSeen.CompareAndSwap(cur, through) {
			break
		}
	}
	c.held.Store(&h)
	c.heldN.Add(1)
	c.heldSeen.Store(true)
	poke(c.kick)
}

// ackRefusalEvery spaces the alerts of one reason for refusing acks: an HQ that does not
// sign its acks sends one per commit, and the fleet needs to hear it now and then, not
// each time.
const ackRefusalEvery = time.Minute

// refuseAck logs and alerts an ack that cannot move the watermark: at once for a new
// reason, and at most once per ackRefusalEvery for the same one.
func (c *Client) refuseAck(err error) {
	now := c.o.Clock()
	c.refusedMu.Lock()
	quiet := err.Error() == c.refusedWhy && now.Sub(c.refusedAt) < ackRefusalEvery
	if !quiet {
		c.refusedWhy, c.refusedAt = err.Error(), now
	}
	c.refusedMu.Unlock()
	if quiet {
		return
	}
	c.o.Logger.Warn("uplink: ack refused", "err", err)
	c.raise(wire.EventAckRefused, wire.SeverityError, err.Error())
}

func (c *Client) flushEvents(s *sessionClient) error {
	c.mu.Lock()
	evs := c.outEvents
	c.outEvents = nil
	c.mu.Unlock()
	topic := c.topics.Event(c.store, c.till)
	for i, e := range evs {
		b, err := wire.EncodeEvent(e)
		if err != nil {
			continue
		}
		if err := c.wait(s.cli.Publish(topic, 1, false, b), "publish event"); err != nil {
			// Put back what was not sent, ahead of anything raised meanwhile.
			c.mu.Lock()
			c.outEvents = append(append([]wire.Event{}, evs[i:]...), c.outEvents...)
			if len(c.outEvents) > maxOutEvents {
				c.outEvents = c.outEvents[len(c.outEvents)-maxOutEvents:]
			}
			c.mu.Unlock()
			return err
		}
	}
	return nil
}

func poke(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}
