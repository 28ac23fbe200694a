#!/usr/bin/env bash
# Fetches what one QEMU guest needs into .cache/kernels/<guest>/, without installing anything
# system-wide (a private sources list and apt state, `apt-get download`, `dpkg -x`): the Debian
# kernel package of a suite (its vmlinuz and modules) and busybox-static for the initramfs.
# Cached: a second call with everything present returns at once.
# Usage: scripts/kernels/fetch-guest.sh <suite> <arch>     e.g. bookworm amd64, bullseye amd64
set -euo pipefail
cd "$(dirname "$0")/../.."
suite=${1:?usage: fetch-guest.sh <suite> <arch>}
arch=${2:?usage: fetch-guest.sh <suite> <arch>}
guest=$PWD/.cache/kernels/$suite-$arch
if [ -s "$guest/vmlinuz" ] && [ -d "$guest/root/lib/modules" ] && [ -x "$guest/busybox" ]; then
  echo "kernels: $suite-$arch present in $guest" >&2
  exit 0
fi
apt=$PWD/.cache/kernels/apt-$suite-$arch
mkdir -p "$apt/lists/partial" "$apt/archives/partial" "$guest/debs"

mirror=$(sed -n 's/^URIs: *\(http[^ ]*debian\)$/\1/p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -1)
mirror=${mirror:-http://deb.debian.org/debian}
cat > "$apt/sources.list" <<LIST
deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $mirror $suite main
LIST
apt_opts=(-o APT::Sandbox::User=root -o APT::Architecture="$arch" -o APT::Architectures="$arch"
  -o Dir::Etc::SourceList="$apt/sources.list" -o Dir::Etc::SourceParts=/dev/null
  -o Dir::State::Lists="$apt/lists" -o Dir::State::Status=/dev/null -o Dir::Cache="$apt" -o Debug::NoLocking=1)

echo "kernels: fetching the $suite $arch kernel and busybox-static from $mirror" >&2
apt-get "${apt_opts[@]}" update -qq
# The metapackage names the suite's current kernel ABI (linux-image-6.1.0-NN-amd64, …).
meta=linux-image-$arch
image=$(apt-cache "${apt_opts[@]}" depends "$meta" 2>/dev/null | sed -n 's/^ *Depends: \(linux-image-[0-9][^ ]*\)$/\1/p' | head -1)
[ -n "$image" ] || { echo "kernels: $meta in $suite names no kernel image; is $suite $arch on $mirror?" >&2; exit 1; }
(cd "$guest/debs" && apt-get "${apt_opts[@]}" download -qq "$image" busybox-static)
rm -rf "$guest/root" && mkdir -p "$guest/root"
dpkg -x "$guest"/debs/"$image"_*.deb "$guest/root"
dpkg -x "$guest"/debs/busybox-static_*.deb "$guest/bb"
cp "$guest"/root/boot/vmlinuz-* "$guest/vmlinuz"
cp "$guest/bb/bin/busybox" "$guest/busybox"
rm -rf "$guest/bb" "$guest"/debs/*.deb
echo "${image#linux-image-}" > "$guest/release"
echo "kernels: $suite-$arch: $(cat "$guest/release")" >&2
