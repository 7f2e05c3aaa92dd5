#!/usr/bin/env bash
# image.sh builds the flashable image and its update bundle (make image), without root.
#
#   VERSION=0.1.42 BOARD=qemu-virt|rpi4 OUT=dist SIGNING_KEY=path/to.key CONFIG=image/qemu-virt.json scripts/image.sh
#
# Without SIGNING_KEY it signs with a development key kept in the cache (created on first
# use, never committed): an image signed so trusts only bundles signed with the same key.
set -euo pipefail
cd "$(dirname "$0")/.."

: "${VERSION:=0.1.$(git rev-list --count HEAD 2>/dev/null || echo 0)}"
: "${BOARD:=qemu-virt}"
: "${OUT:=dist}"
: "${CACHE:=.cache/image}"
: "${CONFIG:=image/$BOARD.json}"
: "${SIGNING_KEY:=$CACHE/dev-signing.key}"

bash scripts/image-fetch.sh "$CACHE"
if [ ! -f "$SIGNING_KEY" ]; then
  go run ./image/cmd/tillbox-sign keygen -o "${SIGNING_KEY%.key}"
fi
bin="$CACHE/bin/$VERSION"
mkdir -p "$bin"
export CGO_ENABLED=0 GOOS=linux GOARCH=arm64
go build -trimpath -ldflags "-s -w" -o "$bin/init" ./image/init
# The box talks to a real head office: the embedded one (make run's) is left out of its
# binary, which makes it a sixth smaller and its start faster (firmware/embedhq_none.go).
go build -trimpath -tags noembeddedhq -ldflags "-s -w -X main.version=$VERSION" -o "$bin/tillbox" ./firmware
unset GOOS GOARCH
go run ./image/cmd/mkimage -board "$BOARD" -version "$VERSION" -cache "$CACHE" \
  -init "$bin/init" -tillbox "$bin/tillbox" -key "$SIGNING_KEY" -config "$CONFIG" -out "$OUT" ${RAW:+-raw}
