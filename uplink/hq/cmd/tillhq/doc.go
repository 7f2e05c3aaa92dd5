// Command tillhq is the head-office side of tillbox: it consumes every till's
// transactions from MQTT, stores each exactly once (bbolt or PostgreSQL) and acknowledges
// them; it also migrates the PostgreSQL schema, imports USB-stick exports, looks up
// receipts, lists the quarantine and shows the fleet.
//
//	tillhq serve      [--broker URL | --listen ADDR] [--store LOC] [--share GROUP]
//	tillhq migrate    --store postgres://...
//	tillhq import     [--store LOC] [--broker URL] FILE.jsonl...
//	tillhq receipt    [--store LOC] NUMBER
//	tillhq tills      [--store LOC]
//	tillhq check      [--store LOC]
//	tillhq quarantine [--store LOC]
//	tillhq fleet      --broker URL
//
// LOC is a postgres:// URL or a bbolt file path (default tillhq.db).
//
// What it guarantees: serve acknowledges an entry to its till only after the store
// committed it (see package hq); import is idempotent; check exits non-zero when any
// till's stored chain fails to verify up to its watermark.
package main
