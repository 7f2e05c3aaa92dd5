#!/usr/bin/env bash
# bench-drain.sh: drain a till's backlog (default 100,000 entries) through one local
# Mosquitto (the shipped limits) into PostgreSQL until HQ acknowledged everything, at the
# till's shipped window of 500, and print the rate (median of ROUNDS rounds, default 5)
# beside two baselines with the same payloads over the same transport (mqttconn) at the
# same window: QoS 1 publishes to the broker, and the broker delivering them to one QoS 1
# consumer; a ratio for each, and the online latency from Append to watermark advance.
#
#   scripts/bench-drain.sh                 # 100,000 entries, till window 500
#   ENTRIES=20000 WINDOW=1000 ROUNDS=3 scripts/bench-drain.sh
#
# Needs mosquitto and PostgreSQL's initdb/pg_ctl (scripts/deps.sh installs them). The
# broker and the database are started on ephemeral loopback ports and removed afterwards.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"
TILLBOX_BENCH_ENTRIES="${ENTRIES:-100000}" TILLBOX_BENCH_WINDOW="${WINDOW:-500}" TILLBOX_BENCH_ROUNDS="${ROUNDS:-5}" \
  go test -count=1 -run '^$' -bench '^BenchmarkDrain$' -benchtime 1x -timeout 30m ./uplink/
