// Package uplink is the till side of MQTT: it publishes the ledger's unsynced entries to HQ
// and moves the ledger's watermark when HQ acknowledges them.
package uplink
