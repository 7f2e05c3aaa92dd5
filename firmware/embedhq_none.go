//go:build noembeddedhq

package main

import (
	"errors"
	"log/slog"

	"tillbox/firmware/config"
)

// The box's image is built with the tag noembeddedhq: a box talks to a real head office,
// and leaving the embedded one (its MQTT broker, the PostgreSQL and NATS clients) out of the
// binary makes it a sixth smaller and its start, under an emulator or on a slow board, a
// good part faster (package initialisers that never need to run).

// hqFile is where the embedded head office would keep its store (embedhq.go).
const hqFile = "hq.db"

// embeddedHQ is not in this build.
type embeddedHQ struct{}

// errNoEmbeddedHQ says why a configuration asking for the embedded head office is refused.
var errNoEmbeddedHQ = errors.New("embedded HQ: not in this build (built with -tags noembeddedhq, as the box's image is); configure uplink.broker and set uplink.embedded false")

func startEmbeddedHQ(*config.Config, *slog.Logger) (*embeddedHQ, string, error) {
	return nil, "", errNoEmbeddedHQ
}

func (*embeddedHQ) close() {}
