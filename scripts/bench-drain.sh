#!/usr/bin/env bash
# bench-drain.sh: drain a till's backlog (default 100,000 entries) through one local
# Mosquitto into PostgreSQL until HQ acknowledged everything, and print the rate (median
# of ROUNDS rounds, default 5) beside
# bare pipelined QoS 1 publishes of the same payloads to the same broker, the ratio, and
# the online latency from Append to watermark advance (p50, p99).
#
#   scripts/bench-drain.sh                 # 100,000 entries, till window 5000
#   ENTRIES=20000 WINDOW=1000 ROUNDS=3 scripts/bench-drain.sh
#
# Needs mosquitto and PostgreSQL's initdb/pg_ctl (scripts/deps.sh installs them). The
# broker and the database are started on ephemeral loopback ports and removed afterwards.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"
TILLBOX_BENCH_ENTRIES="${ENTRIES:-100000}" TILLBOX_BENCH_WINDOW="${WINDOW:-5000}" TILLBOX_BENCH_ROUNDS="${ROUNDS:-5}" \
  go test -count=1 -run '^$' -bench '^BenchmarkDrain$' -benchtime 1x -timeout 30m ./uplink/
