// Package till is the sale engine: a pure state machine. Keys and scans go in; operator and
// customer display text, ledger entries, print jobs and drawer pulses come out. It does no
// I/O and reads no clock: time is passed in.
package till
