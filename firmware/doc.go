// Command tillbox is the till's firmware: one static binary that wires the board's
// peripherals, the ledger, the sale engine and the uplink, and carries the technician's
// tools.
//
//	tillbox run [--data DIR] [--config FILE]   the till's main job
//	tillbox selftest [--config FILE]           test page, display pattern, drawer kick
//	tillbox ledger verify|export|stats [--data DIR | --ledger FILE]
//	tillbox version
package main
