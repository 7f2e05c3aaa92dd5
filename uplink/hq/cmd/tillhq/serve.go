package main

import (
	"context"
	"crypto/x509"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime/debug"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"time"
	_ "time/tzdata" // --trading-tz works on a host without a zoneinfo database

	"tillbox/uplink/hq"
	"tillbox/uplink/identity"
)

func serve(ctx context.Context, e *env, args []string) error {
	c := e.flags("serve")
	listen := c.fs.String("listen", "127.0.0.1:1883", "address of the in-process broker, used when --broker is empty")
	share := c.fs.String("share", "", "shared subscription group: several tillhq share the tills")
	clientID := c.fs.String("client-id", "", "MQTT client id (default tillhq-HOST-PID)")
	batch := c.fs.Int("batch", 1000, "most messages stored per transaction")
	conns := c.fs.Int("connections", 2, "connections to the broker, members of one shared subscription (a broker reading each socket a packet per round takes this many PUBACKs per round)")
	verbose := c.fs.Bool("v", false, "log every quarantine and session change")
	httpAddr := c.fs.String("http", "", "serve the fleet dashboard and /metrics on this address; a bare :PORT is loopback's (127.0.0.1:PORT)")
	webAuth := c.fs.String("dashboard-auth", os.Getenv("TILLHQ_DASHBOARD_AUTH"), "credentials file guarding the dashboard and /metrics (tillhq passwd writes its lines)")
	webCert := c.fs.String("http-cert", "", "serve the dashboard over HTTPS with this certificate (PEM)")
	webKey := c.fs.String("http-key", "", "its key")
	insecure := c.fs.Bool("insecure", false, "run unsigned: store entries no device key signed, send unsigned acks, serve the dashboard without authentication")
	tradingTZ := c.fs.String("trading-tz", "UTC", "the business view's trading days are calendar days in this IANA time zone, e.g. Europe/Warsaw (UTC: the projection's days)")
	caDir := c.fs.String("ca", os.Getenv("TILLHQ_CA"), "the CA directory: the inventory shows the serial of each till's certificate; with the CA key there, HQ answers the tills' certificate renewals")
	th := alertFlags(c.fs)
	ql := quarantineFlags(c.fs)
	keep := c.fs.Duration("events-keep", 90*24*time.Hour, "keep the event history this long (0: for ever)")
	eventRate := c.fs.Int("event-rate", hq.DefaultEventRate, "keep at most this many events of one till per minute; the rest are counted")
	jsURLs := c.fs.String("jetstream", "", "NATS URLs (nats://host:4222,...): take the tills' tx from the cluster's JetStream stream; --broker lists its MQTT URLs, for the acks")
	jsStream := c.fs.String("stream", "TILLBOX_TX", "with --jetstream: the stream, created when missing")
	jsDurable := c.fs.String("durable", "tillhq", "with --jetstream: the durable consumer every tillhq shares")
	jsReplicas := c.fs.Int("replicas", 3, "with --jetstream: replicas of a stream created")
	jsAckWait := c.fs.Duration("ack-wait", 30*time.Second, "with --jetstream: a message not acknowledged this long is delivered again")
	rf := releaseFlags(c)
	if err := c.parse(args, 0, 0, "takes no arguments"); err != nil {
		return err
	}
	if *conns < 1 || *conns > 64 {
		return usageError{"serve: --connections must be 1 to 64"}
	}
	if *keep < 0 || *eventRate < 1 {
		return usageError{"serve: --events-keep must be 0 or more and --event-rate 1 or more"}
	}
	if !*insecure && (c.keys == "" || c.signKey == "") {
		return usageError{"serve: refusing to run unsigned: give --keys DIR (the device keys, tillhq register) and --sign-key FILE " +
			"(the CA's hq-sign.key), or --insecure to store entries no till signed and send acks nobody can verify"}
	}
	if *httpAddr != "" && *webAuth == "" && !*insecure {
		return usageError{"serve: --http needs --dashboard-auth FILE (tillhq passwd), or --insecure for a dashboard anyone on the address can read"}
	}
	tradingZone, err := time.LoadLocation(*tradingTZ)
	if err != nil || *tradingTZ == "" || *tradingTZ == "Local" {
		return usageError{fmt.Sprintf("serve: --trading-tz %q: want an IANA time zone such as Europe/Warsaw", *tradingTZ)}
	}
	if (*webCert == "") != (*webKey == "") {
		return usageError{"serve: --http-cert and --http-key go together"}
	}
	o, err := c.options(false)
	if err != nil {
		return err
	}
	var guard *hq.WebAuth
	if *webAuth != "" {
		if guard, err = hq.ReadWebAuth(*webAuth); err != nil {
			return err
		}
	}
	var inv *identity.CertInventory
	if *caDir != "" {
		if inv, err = identity.OpenInventory(*caDir); err != nil {
			return err
		}
	}
	if *insecure {
		fmt.Fprintln(e.stderr, "tillhq: INSECURE: entries are stored without checking their till's signature, acks go out unsigned"+
			map[bool]string{true: ", the dashboard has no authentication", false: ""}[guard == nil && *httpAddr != ""])
	}
	level := slog.LevelWarn
	if *verbose {
		level = slog.LevelInfo
	}
	logger := slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: level}))
	st, err := hq.Open(ctx, c.store)
	if err != nil {
		return err
	}
	defer st.Close()
	broker := c.broker
	if *jsURLs != "" && broker == "" {
		return usageError{"serve: --jetstream needs --broker, the cluster's MQTT URLs"}
	}
	if broker == "" {
		b, err := hq.StartBroker(*listen, nil)
		if err != nil {
			return err
		}
		defer b.Close()
		broker = b.URL()
		fmt.Fprintln(e.stderr, "tillhq: in-process broker on", b.Addr())
	}
	o.Broker, o.ClientID, o.Share, o.BatchMax, o.Logger = broker, *clientID, *share, *batch, logger
	o.Quarantine = ql
	if *jsURLs == "" {
		o.Connections = *conns
	}
	if o.SignKey == nil && (o.Keys != nil || o.TLS != nil) {
		fmt.Fprintln(e.stderr, "tillhq: acks are unsigned (no --sign-key): tills provisioned with HQ's key will refuse them")
	}
	if os.Getenv("GOGC") == "" && os.Getenv("GOMEMLIMIT") == "" {
		// A drain allocates a few KB per message (decoded entries, batches, COPY
		// buffers) over a live heap of some 20-40 MB: with the default GOGC the collector
		// ran every few batches and took an eighth of serve's CPU in a storm's profile.
		// The heap may grow to four times what is live, but no further than
		// gcMemoryLimit, where the collector runs as often as it must (GOGC and
		// GOMEMLIMIT, when set, are left as given).
		debug.SetGCPercent(400)
		debug.SetMemoryLimit(gcMemoryLimit)
	}
	if path := os.Getenv("TILLHQ_CPUPROFILE"); path != "" {
		// For the fleet benchmark: where serve's time goes, until it stops.
		f, err := os.Create(path)
		if err != nil {
			return fmt.Errorf("serve: TILLHQ_CPUPROFILE: %w", err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			f.Close()
			return fmt.Errorf("serve: TILLHQ_CPUPROFILE: %w", err)
		}
		// Written as soon as serve is told to stop, whatever its shutdown then takes.
		stopped := make(chan struct{})
		go func() { <-ctx.Done(); pprof.StopCPUProfile(); f.Close(); close(stopped) }()
		defer func() { <-stopped }()
	}
	if path := os.Getenv("TILLHQ_MEMPROFILE"); path != "" {
		// For the fleet benchmark: what serve holds on the heap when it is told to stop.
		heapDone := make(chan struct{})
		go func() {
			defer close(heapDone)
			<-ctx.Done()
			if f, err := os.Create(path); err == nil {
				pprof.Lookup("heap").WriteTo(f, 0)
				f.Close()
			}
		}()
		defer func() { <-heapDone }()
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
	// The fleet view keeps the inventory and the event history in the store; HQ's own
	// findings (conflicts, broken chains) are recorded there as they are committed.
	fleetStore, err := hq.OpenFleetStore(ctx, st)
	if err != nil {
		return err
	}
	view := hq.NewFleetView(c.prefix)
	view.EventRate = *eventRate
	view.OnError = func(err error) { logger.Error("tillhq: inventory", "err", err) }
	if inv != nil {
		view.CertSerial = func(k hq.TillKey) string { return inv.Serial(k.Store, k.Till) }
	}
	if err := view.Persist(ctx, fleetStore); err != nil {
		return err
	}
	if *keep > 0 {
		go func() {
			for t := time.NewTicker(time.Hour); ; {
				if n, err := fleetStore.PruneEvents(ctx, time.Now().Add(-*keep)); err != nil && ctx.Err() == nil {
					logger.Error("tillhq: events", "err", err)
				} else if n > 0 {
					logger.Info("tillhq: events pruned", "n", n)
				}
				select {
				case <-ctx.Done():
					t.Stop()
					return
				case <-t.C:
				}
			}
		}()
	}
	inject := o.AfterCommit
	o.AfterCommit = func(r hq.Result) {
		for _, a := range r.Alerts {
			if k, reason, ok := parseAlert(a); ok {
				kind, detail := hq.AlertKind(reason)
				view.RecordConflict(k, kind, detail)
			}
		}
		for _, f := range r.Refused {
			view.RecordRefused(f)
		}
		for _, d := range r.Dropped {
			view.RecordQuarantineFull(d)
		}
		if inject != nil {
			inject(r)
		}
	}
	vo := o
	vo.ClientID, vo.Share = "", ""
	// The fleet view, renewals and rollouts connect to the first broker of a list that answers (mqttconn).
	go hq.WatchFleet(ctx, vo, view, nil)
	if *caDir != "" {
		// With the CA key at hand, HQ answers the tills' certificate renewals.
		if ca, err := identity.OpenCA(*caDir); err != nil {
			fmt.Fprintln(e.stderr, "tillhq: certificate renewals are not answered:", err)
		} else if o.Keys == nil || o.SignKey == nil {
			fmt.Fprintln(e.stderr, "tillhq: certificate renewals are not answered: they need --keys and --sign-key")
		} else {
			go hq.ServeRenewals(ctx, vo, ca, func(k hq.TillKey, cert *x509.Certificate) {
				logger.Info("tillhq: certificate renewed", "till", k.String(), "serial", cert.SerialNumber.Text(16), "until", cert.NotAfter)
			}, nil)
			fmt.Fprintln(e.stderr, "tillhq: answering certificate renewals with the CA in", *caDir)
		}
	}
	var (
		cons *hq.Consumer
		run  func(context.Context) error
	)
	if *jsURLs != "" {
		jc, err := hq.NewJetStreamConsumer(st, &o, hq.JetStream{URLs: *jsURLs, Stream: *jsStream, Durable: *jsDurable,
			Replicas: *jsReplicas, AckWait: *jsAckWait})
		if err != nil {
			return err
		}
		cons, run = jc.Consumer, jc.Run
	} else if cons, err = hq.NewConsumer(st, &o); err != nil {
		return err
	} else {
		run = cons.Run
	}
	if *httpAddr != "" {
		addr := *httpAddr
		if strings.HasPrefix(addr, ":") {
			addr = "127.0.0.1" + addr
		}
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return fmt.Errorf("serve: http: %w", err)
		}
		protect := func(h http.Handler) http.Handler { return h }
		if guard != nil {
			protect = guard.Wrap
		}
		dash := &hq.Dashboard{View: view, Consumer: cons, Store: st, Thresholds: th,
			Reviews:  func(ctx context.Context) ([]hq.Review, error) { return hq.ToVerify(ctx, st, fleetStore) },
			Rollouts: rf.rollouts, TradingZone: tradingZone}
		h := rf.withReleases(dash, protect)
		srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
		scheme := "http"
		if *webCert != "" {
			scheme = "https"
			go srv.ServeTLS(ln, *webCert, *webKey)
		} else {
			go srv.Serve(ln)
		}
		defer srv.Close()
		fmt.Fprintln(e.stderr, "tillhq: dashboard on "+scheme+"://"+ln.Addr().String()+"/ and /metrics")
		if ip := ln.Addr().(*net.TCPAddr).IP; !ip.IsLoopback() && scheme == "http" && guard != nil {
			fmt.Fprintln(e.stderr, "tillhq: the dashboard's credentials cross the network in clear: give --http-cert and --http-key")
		}
	}
	if err := rf.start(ctx, e, c, st, o); err != nil {
		return err
	}
	fmt.Fprintln(e.stderr, "tillhq: serving", broker, "store", redact(c.store))
	err = run(ctx)
	s := cons.Stats()
	fmt.Fprintf(e.stderr, "tillhq: stopped: stored %d, duplicates %d, quarantined %d\n", s.Stored, s.Duplicates, s.Quarantined)
	return err
}

// gcMemoryLimit is serve's soft heap limit: within the fleet's budget (at most 250 MB
// resident for a storm of 1,000 tills) with room for what is not heap.
const gcMemoryLimit = 160 << 20

// parseAlert splits one of Result.Alerts, "store/till: reason".
func parseAlert(a string) (hq.TillKey, string, bool) {
	name, reason, ok := strings.Cut(a, ": ")
	store, till, ok2 := strings.Cut(name, "/")
	if !ok || !ok2 {
		return hq.TillKey{}, "", false
	}
	return hq.TillKey{Store: store, Till: till}, reason, true
}

// quarantineFlags are the quarantine's bound per till and kind of reason.
func quarantineFlags(fs *flag.FlagSet) *hq.QuarantineLimits {
	l := hq.DefaultQuarantineLimits()
	fs.DurationVar(&l.Window, "quarantine-window", l.Window, "the quarantine's bound counts over this period, per till and kind of reason")
	fs.IntVar(&l.Records, "quarantine-records", l.Records, "keep at most this many quarantined messages of one till and kind per window; the rest are counted (0: no limit)")
	fs.Func("quarantine-bytes", "keep at most this many bytes of one till and kind's quarantine per window, e.g. 1MB (0: no limit) (default 1MB)", func(v string) error {
		n, err := parseBytes(v)
		l.Bytes = n
		return err
	})
	return &l
}

// alertFlags are the thresholds of tillhq serve's alerts.
func alertFlags(fs *flag.FlagSet) *hq.Thresholds {
	th := hq.DefaultThresholds()
	fs.DurationVar(&th.UnsyncedTooLong, "alert-unsynced", th.UnsyncedTooLong, "alert: a till's oldest unacknowledged entry is older than this (0: off)")
	fs.DurationVar(&th.LostTooLong, "alert-lost", th.LostTooLong, "alert: a till has been lost this long (0: at once)")
	fs.DurationVar(&th.StatusTooOld, "alert-silent", th.StatusTooOld, "alert: an online till's status is older than this (0: off)")
	fs.DurationVar(&th.DrawerOpenTooLong, "alert-drawer-open", th.DrawerOpenTooLong, "alert: a cash drawer has been open this long (0: off)")
	fs.Func("alert-disk-low", "alert: less free disk than this on a till, e.g. 100MB, 1GB (0: off) (default 100MB)", func(v string) error {
		n, err := parseBytes(v)
		th.DiskLow = n
		return err
	})
	fs.IntVar(&th.Conflicts, "alert-conflicts", th.Conflicts, "alert: this many chain conflicts recorded for a till (0: off)")
	fs.DurationVar(&th.ConflictWindow, "alert-conflict-window", th.ConflictWindow, "with --alert-conflicts: the last within this long")
	return &th
}

// parseBytes reads 123, 100KB, 100MB or 2GB (powers of 1024).
func parseBytes(v string) (int64, error) {
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		m      int64
	}{{"GB", 1 << 30}, {"MB", 1 << 20}, {"KB", 1 << 10}, {"B", 1}} {
		if s, ok := strings.CutSuffix(strings.ToUpper(v), u.suffix); ok {
			v, mult = s, u.m
			break
		}
	}
	n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
	if err != nil || n < 0 || n > (1<<62)/mult {
		return 0, fmt.Errorf("want a size such as 100MB, not %q", v)
	}
	return n * mult, nil
}

// redact keeps a password out of the log.
func redact(loc string) string {
	if i, j := strings.Index(loc, "://"), strings.LastIndex(loc, "@"); i >= 0 && j > i {
		return loc[:i+3] + "…" + loc[j:]
	}
	return loc
}
