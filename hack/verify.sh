#!/usr/bin/env bash
# Static checks: gofmt and go vet (both modules); golangci-lint runs too once
# hack/tools/go.mod pins it (not yet: see the closing note of the first session).
source "$(dirname "$0")/lib.sh"
unformatted="$(gofmt -l cmd internal suites reports distro/cmd distro/pkg 2>/dev/null || true)"
if [[ -n "${unformatted}" ]]; then
  echo "gofmt needed on:"; echo "${unformatted}"; exit 1
fi
go vet ./...
(cd distro && go vet ./...)
if [[ -f hack/tools/go.mod ]]; then
  (cd hack/tools && go build -o "${REPO_ROOT}/bin/golangci-lint" github.com/golangci/golangci-lint/v2/cmd/golangci-lint)
  bin/golangci-lint run ./...
fi
