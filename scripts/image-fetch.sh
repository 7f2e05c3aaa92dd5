#!/usr/bin/env bash
# image-fetch.sh fetches what the arm64 images take from Debian's arm64 archive: the kernel
# package (with its device trees), GRUB's arm64-efi modules (qemu-virt) and the Raspberry Pi
# boot firmware (raspi-firmware, in the non-free-firmware component; rpi4). It uses a private
# apt configuration in the cache
# directory, so the host's apt setup (architectures, lists) is never touched and no root is
# needed. Idempotent: with everything in the cache it returns at once.
#
#   scripts/image-fetch.sh [CACHE]      (default .cache/image)
#
# Leaves CACHE/kernel/{Image,modules/,dtbs/broadcom/,version}, CACHE/grub/arm64-efi/ and
# CACHE/rpi/ (start4.elf, fixup4.dat and the firmware's licence).
set -euo pipefail

cache=$(realpath -m "${1:-.cache/image}")
mkdir -p "$cache"
if [ -f "$cache/kernel/Image" ] && [ -f "$cache/grub/arm64-efi/linux.mod" ] &&
  [ -f "$cache/rpi/start4.elf" ] && [ -f "$cache/kernel/dtbs/broadcom/bcm2711-rpi-4-b.dtb" ]; then
  exit 0
fi

apt="$cache/apt"
mkdir -p "$apt/state/lists/partial" "$apt/cache/archives/partial" "$apt/etc/preferences.d" "$apt/etc/apt.conf.d" "$apt/debs"
# The same suites and mirror as the host, read from its sources.
src=$(grep -rhs '^deb \|^URIs:\|^Suites:' /etc/apt/sources.list /etc/apt/sources.list.d/ 2>/dev/null || true)
mirror=$(printf '%s\n' "$src" | sed -n 's/^URIs: *\(http[^ ]*debian\/*\)$/\1/p; s/^deb \(\[[^]]*\] \)\?\(http[^ ]*debian\/*\) .*/\2/p' | grep -v security | head -1)
mirror=${mirror:-http://deb.debian.org/debian}
codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-bookworm}")
cat > "$apt/sources.list" <<SRC
deb [arch=arm64 trusted=yes] $mirror $codename main non-free-firmware
deb [arch=arm64 trusted=yes] $mirror $codename-updates main non-free-firmware
SRC
cat > "$apt/apt.conf" <<CONF
Dir::State "$apt/state";
Dir::State::Lists "$apt/state/lists";
Dir::State::status "$apt/state/status";
Dir::Cache "$apt/cache";
Dir::Etc::SourceList "$apt/sources.list";
Dir::Etc::SourceParts "/nonexistent";
Dir::Etc::Preferences "$apt/etc/preferences";
Dir::Etc::PreferencesParts "$apt/etc/preferences.d";
Dir::Etc::Parts "$apt/etc/apt.conf.d";
APT::Architecture "arm64";
APT::Architectures { "arm64"; };
Acquire::Languages "none";
CONF
touch "$apt/state/status"
export APT_CONFIG="$apt/apt.conf"
apt-get -qq update

# linux-image-arm64 depends on the current linux-image-<abi>-arm64: that is the kernel.
kpkg=$(apt-cache depends linux-image-arm64 | sed -n 's/^ *Depends: \(linux-image-[0-9][^ ]*-arm64\)$/\1/p' | head -1)
[ -n "$kpkg" ] || { echo "image-fetch: cannot resolve linux-image-arm64's kernel package" >&2; exit 1; }
( cd "$apt/debs" && apt-get -qq download "$kpkg:arm64" grub-efi-arm64-bin:arm64 raspi-firmware:arm64 )

rm -rf "$cache/x" && mkdir -p "$cache/x"
for d in "$apt"/debs/*.deb; do dpkg-deb -x "$d" "$cache/x"; done
kver=$(ls "$cache/x/lib/modules" | head -1)
rm -rf "$cache/kernel" "$cache/grub" "$cache/rpi"
mkdir -p "$cache/kernel/dtbs" "$cache/grub" "$cache/rpi"
cp "$cache/x/boot/vmlinuz-$kver" "$cache/kernel/Image"
mv "$cache/x/lib/modules/$kver" "$cache/kernel/modules"
mv "$cache/x/usr/lib/linux-image-$kver/broadcom" "$cache/kernel/dtbs/broadcom"
echo "$kver" > "$cache/kernel/version"
mv "$cache/x/usr/lib/grub/arm64-efi" "$cache/grub/arm64-efi"
# The Pi 4's boot firmware: the GPU's start4.elf and its memory split fixup4.dat.
fw="$cache/x/usr/lib/raspi-firmware"
for f in start4.elf fixup4.dat; do
  [ -f "$fw/$f" ] || { echo "image-fetch: raspi-firmware has no $f" >&2; exit 1; }
  cp "$fw/$f" "$cache/rpi/$f"
done
cp "$cache/x/usr/share/doc/raspi-firmware/copyright" "$cache/rpi/LICENCE.broadcom" 2>/dev/null || true
dpkg-deb -f "$apt"/debs/raspi-firmware_*.deb Version > "$cache/rpi/version"
rm -rf "$cache/x"
echo "image-fetch: kernel $kver, grub arm64-efi, raspi-firmware $(cat "$cache/rpi/version") in $cache"
