// Command tillhq is the head-office side of tillbox: it consumes every till's
// transactions from MQTT, stores each exactly once (bbolt or PostgreSQL) and acknowledges
// them; it also migrates the PostgreSQL schema, imports USB-stick exports, looks up
// receipts, lists the quarantine and shows the fleet.
//
//	tillhq serve      [--broker URL | --listen ADDR] [--store LOC] [--client-id ID] [--connections N] [--share GROUP | --jetstream NATS-URLS] (--keys DIR --sign-key FILE | --insecure)
//	tillhq migrate    --store postgres://...
//	tillhq import     [--store LOC] [--broker URL] FILE.jsonl...
//	tillhq receipt    [--store LOC] NUMBER
//	tillhq tills      [--store LOC] [--json]
//	tillhq check      [--store LOC] [--json]
//	tillhq quarantine [--store LOC] [--json] [list [S/T]] | show ID
//	tillhq quarantine [--store LOC] [--by WHO] accept ID --keys DIR | evict S/T SEQ | replay ID|S/T
//	tillhq fleet      (--broker URL [--inventory LOC] | --hq URL) [--store S] [--state S] [--attention] [--watch]
//	tillhq events     [--store LOC] [--till S/T] [--kind K] [--since T] [--until T] [--json]
//	tillhq review     [--store LOC] [list | resolve [--note TEXT] RECEIPT]   (stock documents beyond their order)
//	tillhq serve      ... --http ADDR --dashboard-auth FILE [--http-cert F --http-key F] (dashboard and /metrics)
//	tillhq serve      ... --http ADDR --trading-tz ZONE   (the business view's trading days; default UTC)
//	tillhq serve      ... --ca DIR [--alert-* ...]   (certificate serials and renewals; alert thresholds)
//	tillhq serve      ... [--quarantine-window 1h] [--quarantine-records 500] [--quarantine-bytes 1MB]   (the quarantine's bound per till and reason)
//	tillhq passwd     [--generate] NAME   (a credentials line for --dashboard-auth)
//	tillhq ca         init|sign [--replace]|account|server|revoke [--till S/T]|crl|list --ca DIR [--days N]
//	tillhq register   --keys DIR STORE TILL KEY
//	tillhq acl        --keys DIR --base scripts/mosquitto/acl
//	tillhq cmd        --broker URL --sign-key FILE STORE TILL NAME [ARGS]
//	tillhq catalog    --broker URL --sign-key FILE CATALOG.json
//	tillhq release    add --release-keys FILE [--url URL] [--releases DIR] BUNDLE.tbx | list [--json]
//	tillhq group      set STORE/TILL [GROUP] | tag STORE/TILL [TAG...] | list
//	tillhq rollout    create --release V [--group G | --tag T | --target-store S] [--stages 5%,25%,100%]
//	                  [--pause-on-failures N] [--soak D] [--window HH:MM-HH:MM] [--release-url URL]
//	tillhq rollout    status [ID] [--json] | pause ID | resume ID | abort ID
//	tillhq serve      ... --releases DIR --release-listen ADDR   (releases with ranges; runs the rollouts)
//	                  (--http adds /releases/, /rollouts and /api/rollouts to the dashboard)
//	tillhq projection --store postgres://... rebuild   (the relational projection, again from the entries)
//
// LOC is a postgres:// URL or a bbolt file path (default tillhq.db); for fleet, --store
// names a shop to show. Every command that talks to the broker takes --tls-ca, --tls-cert
// and --tls-key (HQ's account certificate of the fleet CA); serve and import take --keys,
// the device key registry, and then store only entries signed by their till's key.
// --sign-key (HQ's signing key, CA/hq-sign.key) signs what HQ sends: acks (serve,
// import), commands and catalogs; a till provisioned with HQ's key refuses them unsigned.
//
// The work is package hq's; this command parses flags and prints. --json prints one JSON
// object per line: tills gives store, till, through and hash; check gives store, till,
// through, entries and error (absent when the chain verified); quarantine list gives each
// quarantined message, then for each till and kind of reason with messages dropped over
// the quarantine's bound an object with Store, Till, Kind and Dropped.
//
// serve refuses to run without --keys and --sign-key unless given --insecure, and serves
// the dashboard only behind --dashboard-auth (or --insecure); a bare :PORT is loopback's.
//
// What it guarantees: the exit status is 0 when the command did its work (or --help was
// asked for), 1 when it failed, 2 for a command line that cannot be run (an unknown
// command or flag, missing arguments); serve acknowledges an entry to its till only after the store
// committed it (see package hq); import is idempotent; check exits non-zero when any
// till's stored chain fails to verify up to its watermark.
package main
