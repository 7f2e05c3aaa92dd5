package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"tillbox/uplink/hq"
)

func serve(ctx context.Context, e *env, args []string) error {
	c := e.flags("serve")
	listen := c.fs.String("listen", "127.0.0.1:1883", "address of the in-process broker, used when --broker is empty")
	share := c.fs.String("share", "", "shared subscription group: several tillhq share the tills")
	clientID := c.fs.String("client-id", "", "MQTT client id (default tillhq-HOST-PID)")
	batch := c.fs.Int("batch", 1000, "most messages stored per transaction")
	verbose := c.fs.Bool("v", false, "log every quarantine and session change")
	httpAddr := c.fs.String("http", "", "serve the fleet dashboard and /metrics on this address, e.g. 127.0.0.1:8080")
	rf := releaseFlags(c)
	if err := c.parse(args, 0, 0, "takes no arguments"); err != nil {
		return err
	}
	o, err := c.options(false)
	if err != nil {
		return err
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
	if o.SignKey == nil && (o.Keys != nil || o.TLS != nil) {
		fmt.Fprintln(e.stderr, "tillhq: acks are unsigned (no --sign-key): tills provisioned with HQ's key will refuse them")
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
		srv := &http.Server{Handler: rf.withReleases(&hq.Dashboard{View: view, Consumer: cons, Store: st}), ReadHeaderTimeout: 10 * time.Second}
		go srv.Serve(ln)
		defer srv.Close()
		fmt.Fprintln(e.stderr, "tillhq: dashboard on http://"+ln.Addr().String()+"/ and /metrics")
	}
	if err := rf.start(ctx, e, c, st, o); err != nil {
		return err
	}
	fmt.Fprintln(e.stderr, "tillhq: serving", broker, "store", redact(c.store))
	err = cons.Run(ctx)
	s := cons.Stats()
	fmt.Fprintf(e.stderr, "tillhq: stopped: stored %d, duplicates %d, quarantined %d\n", s.Stored, s.Duplicates, s.Quarantined)
	return err
}

// redact keeps a password out of the log.
func redact(loc string) string {
	if i, j := strings.Index(loc, "://"), strings.LastIndex(loc, "@"); i >= 0 && j > i {
		return loc[:i+3] + "…" + loc[j:]
	}
	return loc
}
