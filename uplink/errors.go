package uplink

import (
	"errors"

	"tillbox/uplink/mqttconn"
)

// Sentinel errors.
var (
	// ErrOptions: New was given options it cannot work with.
	ErrOptions = errors.New("invalid uplink options")
	// ErrRunning: Run was called while another Run of the same Client is active.
	ErrRunning = errors.New("uplink already running")
	// ErrTimeout: the broker did not answer within the wait timeout (mqttconn.ErrTimeout).
	ErrTimeout = mqttconn.ErrTimeout
	// ErrUnknownCommand: a cmd named a command this till does not have.
	ErrUnknownCommand = errors.New("unknown command")
)
