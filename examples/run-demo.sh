#!/usr/bin/env bash
# Builds and starts the demo Go workload, runs probeflow on an example config against it,
# and stops the workload afterwards. Usage: examples/run-demo.sh [CONFIG] [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
config=${1:-examples/go-demo.yaml}
seconds=${2:-12}
mkdir -p .cache/demo
# CI may run without HOME; keep Go's caches in the project.
export GOCACHE=${GOCACHE:-$PWD/.cache/gocache} GOPATH=${GOPATH:-$PWD/.cache/gopath}
(cd examples/demo-workload && GOFLAGS=-mod=mod go build -ldflags='-s -w' -o ../../.cache/demo/demo-workload .)
.cache/demo/demo-workload &
workload=$!
trap 'kill $workload 2>/dev/null || true' EXIT
echo "probeflow: running $config against demo-workload (pid $workload) for ${seconds}s; Ctrl-C stops earlier" >&2
timeout -s INT "$seconds" node bin/probeflow.js run -c "$config" --log-format text || [ $? -eq 124 ]
