#!/usr/bin/env bash
# Fetches Go toolchains newer than Debian bookworm's (1.19) from Debian's own
# bookworm-backports (1.21–1.23) and trixie (1.24) suites into .cache/go/, without installing
# anything system-wide: a private sources list and apt state, `apt-get download`, `dpkg -x`.
# The Go runtime fidelity tests build their workloads with each of them.
# Usage: scripts/fetch-go-toolchains.sh [1.21 1.22 1.23 1.24]
set -euo pipefail
cd "$(dirname "$0")/.."
versions=("${@:-1.21 1.22 1.23 1.24}")
[ $# -eq 0 ] && versions=(1.21 1.22 1.23 1.24)
cache=$PWD/.cache/go
mkdir -p "$cache/apt/lists/partial" "$cache/apt/archives/partial" "$cache/debs"

mirror=$(sed -n 's/^URIs: *\(http[^ ]*debian\)$/\1/p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -1)
mirror=${mirror:-http://deb.debian.org/debian}
cat > "$cache/apt/sources.list" <<LIST
deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $mirror bookworm-backports main
deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $mirror trixie main
LIST
apt_opts=(-o APT::Sandbox::User=root -o Dir::Etc::SourceList="$cache/apt/sources.list" -o Dir::Etc::SourceParts=/dev/null
  -o Dir::State::Lists="$cache/apt/lists" -o Dir::Cache="$cache/apt" -o Debug::NoLocking=1)

need=()
for v in "${versions[@]}"; do
  [ -x "$cache/$v/usr/lib/go-$v/bin/go" ] || need+=("$v")
done
if ((${#need[@]} == 0)); then echo "go toolchains: all present in $cache" >&2; exit 0; fi

echo "go toolchains: fetching ${need[*]} from $mirror (bookworm-backports, trixie)" >&2
apt-get "${apt_opts[@]}" update -qq
for v in "${need[@]}"; do
  (cd "$cache/debs" && apt-get "${apt_opts[@]}" download -qq "golang-$v-go" "golang-$v-src")
  rm -rf "$cache/$v.tmp" && mkdir -p "$cache/$v.tmp"
  for deb in "$cache"/debs/golang-"$v"-{go,src}_*.deb; do dpkg -x "$deb" "$cache/$v.tmp"; done
  rm -rf "$cache/$v" && mv "$cache/$v.tmp" "$cache/$v"
  GOROOT="$cache/$v/usr/lib/go-$v" "$cache/$v/usr/lib/go-$v/bin/go" version >&2
done
rm -f "$cache"/debs/*.deb
