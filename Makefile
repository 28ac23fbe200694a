# The two README commands:  make demo   and   make test
.PHONY: setup build demo demo-synthetic test validate test-kernels

setup:
	bash scripts/setup.sh

build: setup

demo: setup
	bash examples/run-demo.sh examples/go-demo.yaml 12

demo-synthetic: setup
	node bin/probeflow.js run -c examples/synthetic-demo.yaml

test: setup
	@mkdir -p .cache
	npm run -s typecheck
	npx vitest run --reporter=default --reporter=json --outputFile.json=.cache/vitest.json; \
	  status=$$?; node scripts/test-summary.mjs .cache/vitest.json; exit $$status
	node bin/probeflow.js validate --quiet examples/*.yaml pipelines/*.yaml

validate: setup
	node bin/probeflow.js validate examples/*.yaml pipelines/*.yaml

# The BPF integration suite in QEMU guests with other kernels (Debian bookworm 6.1, bullseye
# 5.10, bookworm 6.1 arm64; kprobes run for real there): writes .cache/kernels/summary.json.
# One guest: node scripts/kernels/test-kernels.mjs bookworm-arm64. See docs/kernels.md.
test-kernels:
	PROBEFLOW_APT_PACKAGES="qemu-system-x86 qemu-system-arm mmdebstrap gcc-aarch64-linux-gnu g++-aarch64-linux-gnu" bash scripts/setup.sh
	node scripts/kernels/test-kernels.mjs
