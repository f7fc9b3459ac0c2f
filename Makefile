# distrobench: every target delegates to a script in hack/.
SHELL := /bin/bash
.DEFAULT_GOAL := help

.PHONY: help run test build bench verify

help: ## List the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

run: ## The main job: build k3lite, deploy on SQLite, conformance + benchmarks, report (installs what it needs)
	@hack/run.sh

test: ## Unit tests of both modules, integration tests on every datastore, end-to-end runs (installs what it needs)
	@hack/test.sh

build: ## Build bin/distrobench and k3lite (amd64) into the build cache
	@hack/build.sh

bench: ## The full benchmark matrix (profiles x datastores), full repeats: slow, not for CI
	@hack/bench.sh

verify: ## gofmt, go vet and golangci-lint (pinned in hack/tools/go.mod) on both modules
	@hack/verify.sh
