// Package till is the sale engine: a pure state machine. Keys and scans go in; operator and
// customer display text, ledger entries, print jobs and drawer pulses come out. It does no
// I/O and reads no clock: time is passed in.
//
// A scan names its item by the rules of the catalog alone: an in-store code by the item
// code inside it; any other code by the code as read, then by its GTIN form (so a UPC-A
// item may be listed as 036000291452 or 0036000291452), then as an item code itself.
package till
