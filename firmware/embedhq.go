//go:build !noembeddedhq

package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"

	berrors "go.etcd.io/bbolt/errors"

	"tillbox/firmware/config"
	"tillbox/uplink/hq"
)

// hqFile is the embedded head office's store in the data directory (single store, laptop).
const hqFile = "hq.db"

// embeddedHQ is head office in the till's own process: an MQTT broker and a consumer with a
// bbolt store, for a single store or a laptop (`make run`); a fleet runs tillhq beside a
// real broker. The run loop never sees it: it is handed only the broker's address.
type embeddedHQ struct {
	broker   *hq.Broker
	store    hq.Store
	consumer *hq.Consumer
	cancel   context.CancelFunc
	wg       sync.WaitGroup
}

// startEmbeddedHQ starts the broker (on the configured broker's host:port, a free port when
// none is given) and the consumer storing into DATA/hq.db. It returns the broker's URL for
// the till's uplink.
func startEmbeddedHQ(cfg *config.Config, log *slog.Logger) (*embeddedHQ, string, error) {
	u := cfg.Uplink
	addr := strings.TrimPrefix(strings.TrimPrefix(u.Broker, "tcp://"), "ssl://")
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	if err := os.MkdirAll(cfg.Data, 0o700); err != nil {
		return nil, "", fmt.Errorf("embedded HQ: %w", err)
	}
	b, err := hq.StartBroker(addr, nil)
	if err != nil {
		return nil, "", fmt.Errorf("embedded HQ: %w", err)
	}
	st, err := hq.OpenBolt(filepath.Join(cfg.Data, hqFile))
	if err != nil {
		b.Close()
		if errors.Is(err, berrors.ErrTimeout) {
			return nil, "", fmt.Errorf("embedded HQ: %w: another process holds it (a tillbox already running on %s?)", err, cfg.Data)
		}
		return nil, "", fmt.Errorf("embedded HQ: %w", err)
	}
	c, err := hq.NewConsumer(st, &hq.Options{Broker: b.URL(), Prefix: u.Prefix, Logger: log.With("part", "hq")})
	if err != nil {
		st.Close()
		b.Close()
		return nil, "", fmt.Errorf("embedded HQ: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	h := &embeddedHQ{broker: b, store: st, consumer: c, cancel: cancel}
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		c.Run(ctx)
	}()
	return h, b.URL(), nil
}

// close stops the consumer, then the broker and the store. It is safe on a nil *embeddedHQ.
func (h *embeddedHQ) close() {
	if h == nil {
		return
	}
	h.cancel()
	h.wg.Wait()
	h.broker.Close()
	h.store.Close()
}
