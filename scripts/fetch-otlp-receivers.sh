#!/usr/bin/env bash
# Fetches the OTLP receiver the otlp sink is tested against: Debian trixie's VictoriaMetrics
# (1.112, /opentelemetry/v1/metrics; bookworm's 1.79 predates OTLP) into .cache/receivers/,
# without installing anything system-wide (scripts/lib/debian-fetch.sh). A static Go binary:
# it runs on bookworm as it is.
# Not Prometheus: Debian builds it with the OTLP receiver disabled (trixie's 2.53 and sid's
# 3.5 alike, changelog: "Disable OTLP Ingestion endpoint", #1080354) — checked on both.
set -euo pipefail
cd "$(dirname "$0")/.."
cache=$PWD/.cache/receivers
target=$cache/trixie
if [ -x "$target/usr/bin/victoria-metrics" ]; then
  echo "otlp receivers: present in $target" >&2
  exit 0
fi
. scripts/lib/debian-fetch.sh
debian_fetch_init "$cache" trixie
debian_fetch_extract "$target" victoria-metrics
echo "victoria-metrics $(zcat "$target/usr/share/doc/victoria-metrics/changelog.Debian.gz" | sed -n "1s/.*(\(.*\)).*/\1/p") in $target" >&2
