#!/usr/bin/env bash
# bench-fleet.sh: a reconnect storm of a fleet. TILLS simulated tills (default 100 and
# 1,000; FLEET5000=1 adds 5,000), each the real uplink client over its own ledger with a
# backlog of ENTRIES (default 200) entries, all start at the same instant against a local
# Mosquitto running the shipped limits (scripts/mosquitto/tillbox.conf) and drain into
# PostgreSQL through one, then two `tillhq serve` on a shared subscription; each of them
# again on a 3-node NATS cluster on loopback (scripts/nats/: MQTT on each node, the tills
# spread over the nodes, the tillhq sharing the replicated JetStream stream's durable
# consumer), printed beside Mosquitto's. For each run it prints the time until every till
# is acknowledged, entries/s, time-to-ack p50/p99, the broker's dropped messages ($SYS,
# Mosquitto only), the tills' resends and probes, each tillhq's peak RSS and CPU, the
# broker's (the three nodes' together for NATS), and the CPU per entry of each process.
#
#   scripts/bench-fleet.sh                 # 100 and 1,000 tills
#   FLEET5000=1 scripts/bench-fleet.sh     # and 5,000
#   TILLS=300,3000 ENTRIES=100 HQ=1,2,3 scripts/bench-fleet.sh
#   BROKERS=mosquitto scripts/bench-fleet.sh   # only Mosquitto (BROKERS=nats: only the cluster)
#   HQPROFILE=/tmp/prof scripts/bench-fleet.sh # a CPU and a heap profile of each tillhq serve there
#   CONNECTIONS=1 scripts/bench-fleet.sh       # tillhq serve --connections 1 (default: serve's own)
#   PROGRESS=30s scripts/bench-fleet.sh        # a line of progress every 30 s (tills' and tillhq's counts)
#   RESEND_AFTER=3s scripts/bench-fleet.sh     # the tills' ResendAfter (default 15s): a small storm, a large one's timeouts
#
# Targets on a 2-core machine: 1,000 tills at 15,000 entries/s or more, 0 drops, 0 resends,
# tillhq at most 250 MB; 5,000 tills complete with nothing lost. Needs mosquitto and
# PostgreSQL's initdb/pg_ctl, and nats-server for the cluster (scripts/deps.sh installs them).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"
tills="${TILLS:-100,1000}"
if [ "${FLEET5000:-0}" = 1 ]; then tills="$tills,5000"; fi
# Three descriptors per till in this process (its ledger, the ledger's head record and its
# socket, and another socket while a lost link reconnects) and one per connection in the
# broker, which inherits this limit.
max=$(ulimit -Hn)
want=$((3 * ${tills##*,} + 4096))
if [ "$max" != unlimited ] && [ "$max" -lt "$want" ]; then want=$max; fi
ulimit -n "$want" || echo "bench-fleet: could not raise the file limit to $want (ulimit -n is $(ulimit -n))" >&2
TILLBOX_FLEET_TILLS="$tills" TILLBOX_FLEET_ENTRIES="${ENTRIES:-200}" TILLBOX_FLEET_HQ="${HQ:-1,2}" \
  TILLBOX_FLEET_BROKERS="${BROKERS:-mosquitto,nats}" TILLBOX_FLEET_HQPROFILE="${HQPROFILE:-}" \
  TILLBOX_FLEET_CONNECTIONS="${CONNECTIONS:-}" TILLBOX_FLEET_PROGRESS="${PROGRESS:-}" \
  TILLBOX_FLEET_RESEND="${RESEND_AFTER:-}" \
  go test -count=1 -run '^$' -bench '^BenchmarkFleet$' -benchtime 1x -timeout 120m ./uplink/
