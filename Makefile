# The two README commands:  make demo   and   make test
.PHONY: setup build demo demo-synthetic test validate

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
