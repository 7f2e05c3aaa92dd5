package hq

import (
	"errors"

	"tillbox/uplink/mqttconn"
)

// Sentinel errors.
var (
	// ErrNotFound: no entry under that receipt or central number.
	ErrNotFound = errors.New("not found")
	// ErrStoreURL: the store location is neither a PostgreSQL URL nor a file path.
	ErrStoreURL = errors.New("unusable store location")
	// ErrSchema: the PostgreSQL schema is missing or older than this build; run
	// `tillhq migrate`.
	ErrSchema = errors.New("store schema missing or outdated")
	// ErrOptions: the consumer was given options it cannot work with.
	ErrOptions = errors.New("invalid consumer options")
	// ErrTimeout: the broker did not answer in time (mqttconn.ErrTimeout).
	ErrTimeout = mqttconn.ErrTimeout
	// ErrRefused: a till answered a command with an error.
	ErrRefused = errors.New("refused by the till")
)
