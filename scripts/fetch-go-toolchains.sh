#!/usr/bin/env bash
# Fetches Go toolchains newer than Debian bookworm's (1.19) from Debian's own
# bookworm-backports (1.21–1.23) and trixie (1.24) suites into .cache/go/, without installing
# anything system-wide (scripts/lib/debian-fetch.sh).
# The Go runtime fidelity tests build their workloads with each of them.
# Usage: scripts/fetch-go-toolchains.sh [1.21 1.22 1.23 1.24]
set -euo pipefail
cd "$(dirname "$0")/.."
versions=("${@:-1.21 1.22 1.23 1.24}")
[ $# -eq 0 ] && versions=(1.21 1.22 1.23 1.24)
cache=$PWD/.cache/go
. scripts/lib/debian-fetch.sh

need=()
for v in "${versions[@]}"; do
  [ -x "$cache/$v/usr/lib/go-$v/bin/go" ] || need+=("$v")
done
if ((${#need[@]} == 0)); then echo "go toolchains: all present in $cache" >&2; exit 0; fi

echo "go toolchains: fetching ${need[*]}" >&2
debian_fetch_init "$cache" bookworm-backports trixie
for v in "${need[@]}"; do
  debian_fetch_extract "$cache/$v" "golang-$v-go" "golang-$v-src"
  GOROOT="$cache/$v/usr/lib/go-$v" "$cache/$v/usr/lib/go-$v/bin/go" version >&2
done
