#!/usr/bin/env bash
# boottime.sh times boots of this tree's image against a baseline's, booted in turn under
# qemu-system-aarch64 (image/vmtest's TestVMBoots): normal boots and update try boots,
# min/median/max per phase and the ratio of the medians to the baseline's.
#
#   BASE=08574af BOOTS=5 TRIES=3 scripts/boottime.sh
#
# BASE is a commit (built from git archive into the cache) or "" for this tree alone.
# Images are built with scripts/image.sh (versions 1.0.0 and, for the try, 1.1.0) into
# .cache/boottime, with the same signing key (NOBUILD=1 boots the last build of this tree
# again). CMDLINE_new / CMDLINE_base add to that image's kernel command line (no rebuild),
# to try a setting; VARIANTS="name:image:words;..." adds images booted in the same turns,
# each a copy of image (new or base) with words added to its command line (normal boots
# only), e.g. VARIANTS="readahead:new:tillbox.readahead=1".
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
: "${BASE=08574af}"
: "${BOOTS:=5}"
: "${TRIES:=3}"
out="$root/.cache/boottime"
cache="$root/.cache/image"
mkdir -p "$out"
bash scripts/image-fetch.sh "$cache"

build() { # build SRC NAME
  for v in 1.0.0 1.1.0; do
    (cd "$1" && CACHE="$cache" VERSION=$v OUT="$out/$2-$v" RAW=1 bash scripts/image.sh >/dev/null)
  done
}
images=""
if [ -n "$BASE" ]; then
  src="$out/src-$BASE"
  if [ ! -d "$src" ]; then
    mkdir -p "$src.tmp" && git archive "$BASE" | tar -x -C "$src.tmp" && mv "$src.tmp" "$src"
  fi
  [ -f "$out/base-1.1.0/tillbox-qemu-virt-1.1.0.tbx" ] || build "$src" base
  images="base=$out/base-1.0.0/tillbox-qemu-virt-1.0.0.img+$out/base-1.1.0/tillbox-qemu-virt-1.1.0.tbx"
fi
[ -n "${NOBUILD:-}" ] || build "$root" new
images="$images new=$out/new-1.0.0/tillbox-qemu-virt-1.0.0.img+$out/new-1.1.0/tillbox-qemu-virt-1.1.0.tbx"

IFS=';' read -ra vs <<<"${VARIANTS:-}"
for v in "${vs[@]}"; do
  IFS=: read -r name from words <<<"$v"
  images="$images $name=$out/$from-1.0.0/tillbox-qemu-virt-1.0.0.img"
  export "TILLBOX_BOOT_CMDLINE_$name=$words"
done

TILLBOX_VMTEST=boots TILLBOX_BOOT_IMAGES="$images" TILLBOX_BOOTS=$BOOTS TILLBOX_TRY_BOOTS=$TRIES \
  TILLBOX_BOOT_CMDLINE_new="${CMDLINE_new:-}" TILLBOX_BOOT_CMDLINE_base="${CMDLINE_base:-}" \
  go test -count=1 -v -run '^TestVMBoots$' -timeout 60m ./image/vmtest/ 2>&1 | grep -v '^=== RUN'
exit "${PIPESTATUS[0]}"
