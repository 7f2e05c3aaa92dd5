// Package wire holds the MQTT topics and message types: the one contract shared by the till
// and HQ.
package wire
