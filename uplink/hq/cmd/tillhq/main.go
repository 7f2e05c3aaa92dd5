package main

import (
	"context"
	"crypto/ed25519"
	"crypto/tls"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"tillbox/uplink/hq"
	"tillbox/uplink/identity"
	"tillbox/uplink/wire"
)

var version = "dev"

func main() {
	if len(os.Args) < 2 {
		usage()
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	switch os.Args[1] {
	case "serve":
		err = serve(ctx, os.Args[2:])
	case "migrate":
		err = migrate(ctx, os.Args[2:])
	case "import":
		err = importFiles(ctx, os.Args[2:])
	case "receipt":
		err = receipt(ctx, os.Args[2:])
	case "tills":
		err = tills(ctx, os.Args[2:])
	case "check":
		err = check(ctx, os.Args[2:])
	case "quarantine":
		err = quarantine(ctx, os.Args[2:])
	case "fleet":
		err = fleet(ctx, os.Args[2:])
	case "ca":
		err = caCmd(os.Args[2:])
	case "register":
		err = register(os.Args[2:])
	case "acl":
		err = acl(os.Args[2:])
	case "cmd":
		err = cmdCmd(ctx, os.Args[2:])
	case "catalog":
		err = catalogCmd(os.Args[2:])
	case "version":
		fmt.Println("tillhq", version)
	case "-h", "--help", "help":
		usage()
	default:
		usage()
		os.Exit(2)
	}
	if err != nil && !errors.Is(err, context.Canceled) {
		fmt.Fprintln(os.Stderr, "tillhq:", err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, `usage: tillhq serve|migrate|import|receipt|tills|check|quarantine|fleet|version [flags]
  serve       consume tills' transactions and acknowledge them (in-process broker when --broker is empty)
  migrate     create or upgrade the PostgreSQL schema
  import      ingest exported JSON Lines files (idempotent)
  receipt     look up a receipt by the till's number or the central number
  tills       list tills and their acknowledged watermark
  check       verify every till's stored chain up to its watermark
  quarantine  list what was not stored, and why
  fleet       list every till's retained status from the broker (--store, --state, --attention, --watch)
  ca          the fleet CA: init, sign a till's request, account, server, revoke, crl
  register    record a till's device key (entries must be signed with it)
  acl         print the broker's ACL: the shipped one and each till's catalog grant
  cmd         send a signed command to a till and print its result
  catalog     publish a store's catalog, signed and retained`)
}

type common struct {
	fs                     *flag.FlagSet
	store                  string
	broker, prefix         string
	username, password     string
	tlsCA, tlsCert, tlsKey string
	keys                   string
	signKey                string
}

func newFlags(name string) *common {
	c := &common{fs: flag.NewFlagSet("tillhq "+name, flag.ExitOnError)}
	c.fs.StringVar(&c.store, "store", envOr("TILLHQ_STORE", "tillhq.db"), "postgres:// URL or bbolt file path")
	c.fs.StringVar(&c.broker, "broker", os.Getenv("TILLHQ_BROKER"), "MQTT broker URL, e.g. tcp://127.0.0.1:1883")
	c.fs.StringVar(&c.prefix, "prefix", wire.DefaultPrefix, "topic prefix")
	c.fs.StringVar(&c.username, "username", os.Getenv("TILLHQ_USERNAME"), "MQTT username")
	c.fs.StringVar(&c.password, "password", os.Getenv("TILLHQ_PASSWORD"), "MQTT password")
	c.fs.StringVar(&c.tlsCA, "tls-ca", os.Getenv("TILLHQ_TLS_CA"), "fleet CA certificate: the broker's must chain to it (ssl:// brokers)")
	c.fs.StringVar(&c.tlsCert, "tls-cert", os.Getenv("TILLHQ_TLS_CERT"), "HQ's client certificate (tillhq ca account tillhq)")
	c.fs.StringVar(&c.tlsKey, "tls-key", os.Getenv("TILLHQ_TLS_KEY"), "its key")
	c.fs.StringVar(&c.keys, "keys", os.Getenv("TILLHQ_KEYS"), "device key registry (tillhq register): store only entries signed by their till")
	c.fs.StringVar(&c.signKey, "sign-key", os.Getenv("TILLHQ_SIGN_KEY"), "HQ's signing key (CA/hq-sign.key): signs acks, commands and catalogs; empty sends them unsigned")
	return c
}

// tls is the client TLS configuration from the flags, or nil when none is given.
func (c *common) tls() (*tls.Config, error) {
	if c.tlsCert == "" && c.tlsCA == "" {
		return nil, nil
	}
	if c.tlsCert == "" || c.tlsKey == "" || c.tlsCA == "" {
		return nil, errors.New("--tls-ca, --tls-cert and --tls-key go together")
	}
	return identity.ClientTLS(c.tlsCert, c.tlsKey, c.tlsCA)
}

// keyRing is the device key registry from --keys, or nil.
func (c *common) keyRing() hq.Keys {
	if c.keys == "" {
		return nil
	}
	return &hq.KeyDir{Dir: c.keys}
}

// signingKey is HQ's signing key from --sign-key, or nil when none is given.
func (c *common) signingKey() (ed25519.PrivateKey, error) {
	if c.signKey == "" {
		return nil, nil
	}
	return identity.ReadSigningKey(c.signKey)
}

// ackPayload is the ack for till k through seq, signed when --sign-key is given.
func ackPayload(key ed25519.PrivateKey, k hq.TillKey, through uint64) []byte {
	if key == nil {
		return wire.EncodeAck(through)
	}
	return wire.SignAck(key, k.Store, k.Till, through)
}

// options are the consumer options the flags give.
func (c *common) options() (hq.Options, error) {
	t, err := c.tls()
	if err != nil {
		return hq.Options{}, err
	}
	key, err := c.signingKey()
	if err != nil {
		return hq.Options{}, err
	}
	return hq.Options{Broker: c.broker, Prefix: c.prefix, Username: c.username, Password: c.password, TLS: t,
		Keys: c.keyRing(), SignKey: key}, nil
}

// connect is a plain MQTT client for one-shot commands.
func (c *common) connect(name string) (mqtt.Client, error) {
	if c.broker == "" {
		return nil, errors.New("--broker is required")
	}
	t, err := c.tls()
	if err != nil {
		return nil, err
	}
	cli := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(c.broker).SetClientID(fmt.Sprintf("%s-%d", name, os.Getpid())).
		SetUsername(c.username).SetPassword(c.password).SetTLSConfig(t).SetConnectTimeout(10 * time.Second).SetAutoReconnect(false))
	if tok := cli.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		return nil, fmt.Errorf("connect %s: %v", c.broker, tok.Error())
	}
	return cli, nil
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

func serve(ctx context.Context, args []string) error {
	c := newFlags("serve")
	listen := c.fs.String("listen", "127.0.0.1:1883", "address of the in-process broker, used when --broker is empty")
	share := c.fs.String("share", "", "shared subscription group: several tillhq share the tills")
	clientID := c.fs.String("client-id", "", "MQTT client id (default tillhq-HOST-PID)")
	batch := c.fs.Int("batch", 1000, "most messages stored per transaction")
	verbose := c.fs.Bool("v", false, "log every quarantine and session change")
	httpAddr := c.fs.String("http", "", "serve the fleet dashboard and /metrics on this address, e.g. 127.0.0.1:8080")
	c.fs.Parse(args)
	level := slog.LevelWarn
	if *verbose {
		level = slog.LevelInfo
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	st, err := hq.Open(ctx, c.store)
	if err != nil {
		return err
	}
	defer st.Close()
	broker := c.broker
	if broker == "" {
		b, err := hq.StartBroker(*listen, nil)
		if err != nil {
			return err
		}
		defer b.Close()
		broker = b.URL()
		fmt.Fprintln(os.Stderr, "tillhq: in-process broker on", b.Addr())
	}
	o, err := c.options()
	if err != nil {
		return err
	}
	o.Broker, o.ClientID, o.Share, o.BatchMax, o.Logger = broker, *clientID, *share, *batch, logger
	if o.SignKey == nil && (o.Keys != nil || o.TLS != nil) {
		fmt.Fprintln(os.Stderr, "tillhq: acks are unsigned (no --sign-key): tills provisioned with HQ's key will refuse them")
	}
	if n, _ := strconv.Atoi(os.Getenv("TILLHQ_FAULT_KILL_AFTER_COMMIT")); n > 0 {
		// Fault injection for the tests: die by SIGKILL after the n-th commit that moved a
		// watermark, before its acks go out.
		commits := 0
		o.AfterCommit = func(r hq.Result) {
			if len(r.Moved) > 0 {
				if commits++; commits >= n {
					syscall.Kill(os.Getpid(), syscall.SIGKILL)
					select {}
				}
			}
		}
	}
	cons, err := hq.NewConsumer(st, &o)
	if err != nil {
		return err
	}
	if *httpAddr != "" {
		view := hq.NewFleetView(c.prefix)
		vo := o
		vo.ClientID = ""
		go hq.WatchFleet(ctx, vo, view, nil)
		ln, err := net.Listen("tcp", *httpAddr)
		if err != nil {
			return fmt.Errorf("serve: http: %w", err)
		}
		srv := &http.Server{Handler: &hq.Dashboard{View: view, Consumer: cons, Store: st}, ReadHeaderTimeout: 10 * time.Second}
		go srv.Serve(ln)
		defer srv.Close()
		fmt.Fprintln(os.Stderr, "tillhq: dashboard on http://"+ln.Addr().String()+"/ and /metrics")
	}
	fmt.Fprintln(os.Stderr, "tillhq: serving", broker, "store", redact(c.store))
	err = cons.Run(ctx)
	s := cons.Stats()
	fmt.Fprintf(os.Stderr, "tillhq: stopped: stored %d, duplicates %d, quarantined %d\n", s.Stored, s.Duplicates, s.Quarantined)
	return err
}

// redact keeps a password out of the log.
func redact(loc string) string {
	if i, j := strings.Index(loc, "://"), strings.LastIndex(loc, "@"); i >= 0 && j > i {
		return loc[:i+3] + "…" + loc[j:]
	}
	return loc
}

func migrate(ctx context.Context, args []string) error {
	c := newFlags("migrate")
	c.fs.Parse(args)
	if err := hq.Migrate(ctx, c.store); err != nil {
		return err
	}
	fmt.Println("schema up to date")
	return nil
}

func importFiles(ctx context.Context, args []string) error {
	c := newFlags("import")
	c.fs.Parse(args)
	if c.fs.NArg() == 0 {
		return errors.New("import: no file given")
	}
	st, err := hq.Open(ctx, c.store)
	if err != nil {
		return err
	}
	defer st.Close()
	through := map[hq.TillKey]uint64{}
	for _, name := range c.fs.Args() {
		f, err := os.Open(name)
		if err != nil {
			return fmt.Errorf("import: %w", err)
		}
		r, err := hq.ImportVerified(ctx, st, f, 1000, c.keyRing())
		f.Close()
		fmt.Printf("%s: %d lines, %d stored, %d already held, %d quarantined\n", name, r.Lines, r.Stored, r.Duplicates, r.Quarantined)
		if err != nil {
			return err
		}
		for k, v := range r.Through {
			through[k] = v
		}
	}
	for k, v := range through {
		fmt.Printf("%s acknowledged through %d\n", k, v)
	}
	if c.broker != "" {
		// Tell the tills now rather than when they next resend.
		key, err := c.signingKey()
		if err != nil {
			return fmt.Errorf("import: acks not published: %w", err)
		}
		cli, err := c.connect("tillhq-import")
		if err != nil {
			return fmt.Errorf("import: acks not published: %w", err)
		}
		defer cli.Disconnect(250)
		topics := wire.Topics{Prefix: c.prefix}
		for k, v := range through {
			if v == 0 {
				continue
			}
			if t := cli.Publish(topics.Ack(k.Store, k.Till), 1, true, ackPayload(key, k, v)); !t.WaitTimeout(10*time.Second) || t.Error() != nil {
				return fmt.Errorf("import: ack %s not published: %v", k, t.Error())
			}
		}
	}
	return nil
}

func receipt(ctx context.Context, args []string) error {
	c := newFlags("receipt")
	c.fs.Parse(args)
	if c.fs.NArg() != 1 {
		return errors.New("receipt: give one receipt or central number")
	}
	st, err := hq.Open(ctx, c.store)
	if err != nil {
		return err
	}
	defer st.Close()
	r, err := st.Lookup(ctx, c.fs.Arg(0))
	if err != nil {
		return err
	}
	fmt.Printf("store %s till %s seq %d\nreceipt %s\ncentral %s\n%s\n", r.Store, r.Till, r.Seq, r.Receipt, r.Central, r.Raw)
	return nil
}

func tills(ctx context.Context, args []string) error {
	c := newFlags("tills")
	c.fs.Parse(args)
	st, err := hq.Open(ctx, c.store)
	if err != nil {
		return err
	}
	defer st.Close()
	ts, err := st.Tills(ctx)
	if err != nil {
		return err
	}
	w := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "STORE\tTILL\tTHROUGH")
	for _, t := range ts {
		fmt.Fprintf(w, "%s\t%s\t%d\n", t.Store, t.Till, t.Through)
	}
	return w.Flush()
}

func check(ctx context.Context, args []string) error {
	c := newFlags("check")
	c.fs.Parse(args)
	st, err := hq.Open(ctx, c.store)
	if err != nil {
		return err
	}
	defer st.Close()
	ts, err := st.Tills(ctx)
	if err != nil {
		return err
	}
	bad := 0
	for _, t := range ts {
		n, err := hq.Check(ctx, st, t.TillKey)
		if err != nil {
			bad++
			fmt.Printf("%s: %v\n", t.TillKey, err)
			continue
		}
		fmt.Printf("%s: %d entries, chain verified through %d\n", t.TillKey, n, t.Through)
	}
	if bad > 0 {
		return fmt.Errorf("check: %d tills failed", bad)
	}
	return nil
}

func quarantine(ctx context.Context, args []string) error {
	c := newFlags("quarantine")
	asJSON := c.fs.Bool("json", false, "one JSON object per line")
	c.fs.Parse(args)
	st, err := hq.Open(ctx, c.store)
	if err != nil {
		return err
	}
	defer st.Close()
	enc := json.NewEncoder(os.Stdout)
	return st.Quarantined(ctx, func(q hq.Quarantine) error {
		if *asJSON {
			return enc.Encode(q)
		}
		fmt.Printf("%d %s %s %s/%s seq %d: %s\n", q.ID, q.At.Format(time.RFC3339), q.Source, q.Store, q.Till, q.Seq, q.Reason)
		return nil
	})
}

func fleet(ctx context.Context, args []string) error {
	c := newFlags("fleet")
	wait := c.fs.Duration("wait", 5*time.Second, "longest time to collect statuses")
	state := c.fs.String("state", "", "only tills in this state: online, lost, stopped")
	attention := c.fs.Bool("attention", false, "only tills that need someone")
	watch := c.fs.Bool("watch", false, "keep the table on screen, redrawn as statuses arrive")
	every := c.fs.Duration("every", 2*time.Second, "with --watch: how often the table is redrawn")
	c.fs.Parse(args)
	if c.broker == "" {
		return errors.New("fleet: --broker is required")
	}
	o, err := c.options()
	if err != nil {
		return err
	}
	// --store is the common flag (HQ's store location elsewhere); here it names a shop.
	f := hq.FleetFilter{State: *state, Attention: *attention}
	c.fs.Visit(func(fl *flag.Flag) {
		if fl.Name == "store" {
			f.Store = c.store
		}
	})
	if !*watch {
		ts, err := hq.Fleet(ctx, o, 500*time.Millisecond, *wait)
		if err != nil {
			return err
		}
		return fleetTable(os.Stdout, f.Filter(ts, time.Now()), time.Now())
	}
	view := hq.NewFleetView(c.prefix)
	go hq.WatchFleet(ctx, o, view, nil)
	tick := time.NewTicker(*every)
	defer tick.Stop()
	for {
		var b strings.Builder
		b.WriteString("\x1b[H\x1b[2J") // home and clear: a live view on a terminal
		now := time.Now()
		fmt.Fprintf(&b, "tillbox fleet  %s  (Ctrl-C to stop)\n\n", now.Format("15:04:05"))
		fleetTable(&b, f.Filter(view.Tills(), now), now)
		os.Stdout.WriteString(b.String())
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

// fleetTable prints tills as the fleet manager reads them.
func fleetTable(out io.Writer, ts []hq.TillStatus, now time.Time) error {
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "STORE\tTILL\tSTATE\tBACKLOG\tOLDEST UNSYNCED\tLAST SALE\tVERSION\tDEVICES\tATTENTION")
	age := func(t *time.Time) string {
		if t == nil {
			return "-"
		}
		return now.Sub(*t).Round(time.Second).String() + " ago"
	}
	for _, t := range ts {
		s := t.Status
		if t.Err != "" {
			fmt.Fprintf(w, "%s\t%s\t(bad status: %s)\n", t.Store, t.Till, t.Err)
			continue
		}
		oldest := "-"
		if s.Backlog > 0 {
			oldest = age(s.OldestUnsynced)
		}
		why := strings.Join(hq.Attention(t, now), ", ")
		if why == "" {
			why = "-"
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%d\t%s\t%s\t%s\t%s\t%s\n", t.Store, t.Till, s.State, s.Backlog, oldest, age(s.LastSale),
			s.Version, hq.DevicesText(s.Devices), why)
	}
	return w.Flush()
}
