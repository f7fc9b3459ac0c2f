#!/usr/bin/env bash
# Static checks on both modules: gofmt, go vet, and golangci-lint (errcheck,
# govet, staticcheck, revive, errorlint, misspell, ...) pinned in hack/tools/go.mod.
source "$(dirname "$0")/lib.sh"
unformatted="$(gofmt -l cmd internal suites reports distro/cmd distro/pkg 2>/dev/null || true)"
if [[ -n "${unformatted}" ]]; then
  echo "gofmt needed on:"; echo "${unformatted}"; exit 1
fi
go vet ./...
(cd distro && go vet ./...)
log "golangci-lint (pinned in hack/tools/go.mod, config hack/golangci.yml)"
(cd hack/tools && go build -o "${REPO_ROOT}/bin/golangci-lint" github.com/golangci/golangci-lint/v2/cmd/golangci-lint)
bin/golangci-lint run --config hack/golangci.yml ./...
(cd distro && ../bin/golangci-lint run --config ../hack/golangci.yml ./...)
echo "verify: ok"
