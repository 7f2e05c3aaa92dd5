// Package hq is the broker-side consumer at head office: it stores each till's entries
// exactly once and acknowledges them.
package hq
