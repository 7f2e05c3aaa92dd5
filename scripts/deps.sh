#!/usr/bin/env bash
# deps.sh installs what tillbox's build and tests need when it is missing.
# Idempotent: when everything is present it only checks and returns in well under a second
# (plus a module download that is a no-op when the cache is warm).
set -euo pipefail

need=()
have() { command -v "$1" >/dev/null 2>&1; }

have mosquitto            || [ -x /usr/sbin/mosquitto ] || need+=(mosquitto)
have mosquitto_pub        || need+=(mosquitto-clients)
# The clustered broker: the NATS fault test and the fleet benchmark's cluster (scripts/nats/).
have nats-server          || [ -x /usr/sbin/nats-server ] || need+=(nats-server)
have socat                || need+=(socat)
have qemu-aarch64-static  || need+=(qemu-user-static)
have tmux                 || need+=(tmux)
# The fleet dashboard's and the technician page's browser tests.
have chromium             || [ -x /usr/bin/chromium ] || need+=(chromium)
# promtool checks the shipped Prometheus rules (scripts/monitoring).
have promtool             || need+=(prometheus)
# PostgreSQL server binaries (initdb, pg_ctl) live outside PATH on Debian.
have initdb || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
# The image and the VM test (make image, make vmtest): qemu without its recommends, the
# arm64 UEFI firmware, and the tools that make filesystems in plain files without root.
have qemu-system-aarch64  || need+=(qemu-system-arm)
[ -f /usr/share/qemu-efi-aarch64/QEMU_EFI.fd ] || need+=(qemu-efi-aarch64)
have grub-mkimage         || need+=(grub-common)
have mksquashfs           || need+=(squashfs-tools)
have mkfs.vfat            || [ -x /usr/sbin/mkfs.vfat ] || need+=(dosfstools)
have mcopy                || need+=(mtools)
have sfdisk               || [ -x /usr/sbin/sfdisk ] || need+=(fdisk)
have mkfs.ext4            || [ -x /usr/sbin/mkfs.ext4 ] || need+=(e2fsprogs)
have cpio                 || need+=(cpio)

if [ ${#need[@]} -gt 0 ]; then
  echo "deps: installing ${need[*]}"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

if ! have go; then
  echo "deps: Go toolchain not found (install Go ${GO_VERSION:-1.26} and put it on PATH)" >&2
  exit 1
fi
go mod download
