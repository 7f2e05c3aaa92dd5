#!/usr/bin/env bash
# The ledger at scale: grows a ledger of realistic sales to 1M entries on tmpfs and measures
# it on disk at 1k, 100k and 1M entries (Append p50/p99 fsync'd, bytes on disk per payload
# byte, `tillbox run` start to ready and RSS at ready, receipt lookup p99), then prints
# which targets were met. See TestLedgerScale in ledger/scale_test.go.
#
#   SIZES=1000,100000,1000000  the sizes measured
#   DISK=dir                   where the measured copy lives (default: a directory under /tmp)
#   BUILD=dir                  where the ledger is grown (default /dev/shm)
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"
work=$(mktemp -d /tmp/bench-ledger.XXXXXX)
trap 'rm -rf "$work"' EXIT
CGO_ENABLED=0 go build -o "$work/tillbox" ./firmware
mkdir -p "$work/disk"
TILLBOX_BENCH_LEDGER=1 \
LEDGER_BENCH_SIZES="${SIZES:-1000,100000,1000000}" \
LEDGER_BENCH_DISK="${DISK:-$work/disk}" \
LEDGER_BENCH_BUILD="${BUILD:-/dev/shm}" \
LEDGER_BENCH_TILLBOX="$work/tillbox" \
	go test -count=1 -timeout 2h -run '^TestLedgerScale$' -v ./ledger/ | grep -v -e '^=== RUN' -e '^--- ' -e '^PASS' -e '^ok '
