// Command tillbox is the till's firmware: one static binary that wires the board's
// peripherals, the ledger, the sale engine and the uplink, and carries the technician's
// tools.
//
//	tillbox run [--data DIR] [--config FILE]   the till's main job
//	tillbox selftest [--config FILE]           test page, display pattern, drawer kick
//	tillbox ledger verify|export|stats [--data DIR | --ledger FILE] [--json]
//	tillbox techpage token [--url] [--new]   the technician page's token
//	tillbox version
//
// While a till runs on the data directory, `ledger stats` and `ledger verify` are answered
// by it over its control socket (DATA/tillbox.sock). `tillbox run` also wires the embedded
// head office of `make run` (embedhq.go) when the configuration asks for it, and hands the
// run loop only its broker's address. It serves the technician page (package techpage;
// techpage.go) beside the run loop, through app.Options.Technician, unless the
// configuration's technician.listen is "off".
//
// The box's image builds tillbox with the tag noembeddedhq (embedhq_none.go): without the
// embedded head office, whose broker and PostgreSQL and NATS clients a box never runs; a
// configuration that asks for it is then refused with a message saying so.
//
// TILLBOX_TRACE=1 (or =/path/to/file) prints how long each phase of `tillbox run`'s start
// took, from the exec to the first operator prompt (package starttrace).
//
// TILLBOX_FAULT_KILL_AFTER_COMMIT=N, for fault tests, makes `tillbox run` kill itself with
// SIGKILL right after its N-th document is committed, before its receipt is printed.
package main
