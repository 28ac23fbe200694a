#!/usr/bin/env bash
# Installs what probeflow needs on a Debian machine (root): system packages, npm
# dependencies, and the build. Idempotent and quick when everything is already there,
# so both README commands (and CI) can start with it.
set -euo pipefail
cd "$(dirname "$0")/.."

# clang+bpftool build bpf/*.bpf.c, libbpf-dev the binding; golang-go builds test workloads,
# gcc and libc6-dev link the cgo ones.
APT_PACKAGES=(clang llvm libbpf-dev bpftool make g++ gcc libc6-dev golang-go)
# The peers the tests run for real: receivers and promtool, gdb (offset tables from DWARF),
# setpriv (capability tests), bpftrace (the benches' comparison). A test whose program is
# missing fails and names this script; none is skipped for it.
APT_PACKAGES+=(prometheus victoria-metrics gdb util-linux bpftrace)
# client_golang (GOPATH sources): the instrumented service the client_golang names are checked against.
APT_PACKAGES+=(golang-github-prometheus-client-golang-dev)
# Tools the tests call that an image usually has, named so a leaner one still works:
# openssl (test TLS certificates), iproute2 (ss), procps (pgrep).
APT_PACKAGES+=(openssl iproute2 procps)
APT_PACKAGES+=(${PROBEFLOW_APT_PACKAGES:-})
missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing Debian packages: ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  # A fresh machine may still be running its own apt (unattended-upgrades at boot): wait for
  # the dpkg lock instead of failing at once (seen here: "Could not get lock … held by apt-get").
  lock=(-o DPkg::Lock::Timeout=300)
  apt-get "${lock[@]}" update -qq
  # prometheus and victoria-metrics ship services; the tests start their own on loopback, so
  # the packages must not start theirs (policy-rc.d 101: "action not allowed").
  policy=/usr/sbin/policy-rc.d
  own_policy=
  if [[ ! -e $policy ]]; then printf '#!/bin/sh\nexit 101\n' > "$policy" && chmod +x "$policy" && own_policy=1; fi
  status=0
  apt-get "${lock[@]}" install -y -qq --no-install-recommends "${missing[@]}" >/dev/null || status=$?
  [[ -n $own_policy ]] && rm -f "$policy"
  if ((status)); then echo "setup: apt-get install ${missing[*]} failed (exit $status)" >&2; exit "$status"; fi
fi

# npm ci only when the lockfile changed since the last install.
if [[ ! -f node_modules/.package-lock.json || package-lock.json -nt node_modules/.package-lock.json ]]; then
  echo "setup: npm ci" >&2
  npm ci --no-audit --no-fund
fi

# Go 1.21–1.24 for the Go runtime version matrix (Debian backports/trixie, into .cache/go).
if [[ "${PROBEFLOW_SKIP_GO_MATRIX:-}" != 1 ]]; then
  bash scripts/fetch-go-toolchains.sh || echo "setup: could not fetch Go toolchains; the Go version matrix tests will fail and say so" >&2
fi

# VictoriaMetrics 1.112 (trixie, into .cache/receivers): the real OTLP receiver of the otlp sink's tests.
bash scripts/fetch-otlp-receivers.sh || echo "setup: could not fetch the OTLP receiver; the otlp receiver tests will fail and say so" >&2

echo "setup: building" >&2
npm run --silent build
