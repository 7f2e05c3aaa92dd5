#!/usr/bin/env bash
# fuzz.sh: a short run of every fuzz target (make test-fuzz).
#
# Each target gets a budget in executions, not seconds: a duration budget races the fuzzing
# coordinator's own deadline on a busy machine and can fail with "context deadline exceeded"
# though no input failed (go1.26's engine). A count has no deadline to race; on this machine
# each budget is a few seconds. A real finding still fails the run and writes its input to
# testdata/fuzz/<target>/.
#
#   scripts/fuzz.sh                  # every target, its default budget
#   FUZZTIME=10m scripts/fuzz.sh     # every target for the given -fuzztime (a duration or Nx)
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"

# target           package             executions
targets=(
  "FuzzParse         ./drivers/scanner   200000x"
  "FuzzFrame         ./drivers/scanner   150000x"
  "FuzzDecode        ./drivers/evdev      40000x"
  "FuzzParser        ./drivers/printer   150000x"
  "FuzzDecode        ./drivers/printer    80000x"
  "FuzzDecode        ./uplink/wire        80000x"
  "FuzzReadCanonical ./uplink/wire       200000x"
  "FuzzDecodeCatalog ./uplink/wire        80000x"
  "FuzzDecodeCmd     ./uplink/wire        80000x"
  "FuzzDecodeAck     ./uplink/wire        50000x"
  "FuzzDecodeStatus  ./uplink/wire        50000x"
  "FuzzDecodeEvent   ./uplink/wire        80000x"
  "FuzzDecodeCmdResult ./uplink/wire      60000x"
  "FuzzParseTopic    ./uplink/wire       100000x"
  "FuzzManifest      ./image/bundle       60000x"
  "FuzzDecode        ./image/grubenv     200000x"
  "FuzzBootState     ./image/update      200000x"
  "FuzzParse         ./firmware/config    60000x"
)
for t in "${targets[@]}"; do
  read -r name pkg budget <<<"$t"
  budget="${FUZZTIME:-$budget}"
  echo "go test -run '^\$' -fuzz '^$name\$' -fuzztime $budget $pkg"
  go test -run '^$' -fuzz "^$name\$" -fuzztime "$budget" "$pkg"
done
