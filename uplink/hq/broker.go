package hq

import (
	"fmt"
	"log/slog"
	"net"

	mochi "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/hooks/auth"
	"github.com/mochi-mqtt/server/v2/listeners"
)

// Broker is an in-process MQTT broker for a single store or a laptop, where no broker is
// given. It accepts every client (no authentication) and keeps retained messages only in
// memory: tills and HQ heal a restart by the delivery rules, as with any broker.
type Broker struct {
	srv  *mochi.Server
	addr string
}

// StartBroker listens on addr (host:port; port 0 picks a free one) and serves until Close.
func StartBroker(addr string, logger *slog.Logger) (*Broker, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("hq: broker: %w", err)
	}
	real := ln.Addr().String()
	ln.Close()
	caps := mochi.NewDefaultServerCapabilities()
	// Room for a till's whole window and HQ's batches, beyond Mosquitto-like defaults.
	caps.MaximumInflight = 65535
	caps.ReceiveMaximum = 65535
	caps.MaximumClientWritesPending = 65535
	srv := mochi.New(&mochi.Options{Capabilities: caps, Logger: logger, InlineClient: false})
	if err := srv.AddHook(new(auth.AllowHook), nil); err != nil {
		return nil, fmt.Errorf("hq: broker: %w", err)
	}
	if err := srv.AddListener(listeners.NewTCP(listeners.Config{ID: "tcp", Address: real})); err != nil {
		return nil, fmt.Errorf("hq: broker: %w", err)
	}
	if err := srv.Serve(); err != nil {
		return nil, fmt.Errorf("hq: broker: %w", err)
	}
	return &Broker{srv: srv, addr: real}, nil
}

// Addr is the address the broker listens on.
func (b *Broker) Addr() string { return b.addr }

// URL is the broker's address as a client URL.
func (b *Broker) URL() string { return "tcp://" + b.addr }

// Close stops the broker and drops every client.
func (b *Broker) Close() error { return b.srv.Close() }
