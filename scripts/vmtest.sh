#!/usr/bin/env bash
# vmtest.sh boots the image under qemu-system-aarch64 and drives the box from the host
# (image/vmtest). MODE=full (default: make vmtest) runs every scenario; MODE=short the first
# boot, a sale to HQ and an update confirmed (make test); full adds a staged rollout from
# head office over the network (TestVMRollout); MODE=soak (make soak) the power cut at random
# moments 100 times (TestVMSoak). Skips when qemu is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
MODE=${MODE:-full}
if ! command -v qemu-system-aarch64 >/dev/null 2>&1; then
  echo "vmtest: qemu-system-aarch64 not installed (scripts/deps.sh): skipped"
  exit 0
fi
bash scripts/image-fetch.sh .cache/image
case $MODE in
soak) run='^TestVMSoak$' timeout=6h ;;
*) run='^TestVM(Rollout)?$' timeout=60m ;;
esac
TILLBOX_VMTEST=$MODE go test -count=1 -v -run "$run" -timeout "$timeout" ./image/vmtest/ 2>&1 |
  grep -v '^=== RUN'
exit "${PIPESTATUS[0]}"
