#!/usr/bin/env bash
# Builds the Prometheus server the Prometheus-source integration test runs
# (internal/job/prometheus_integration_test.go: it scrapes a k3lite cluster's
# apiserver), from source through the Go module proxy, into
# _output/cache/prometheus-<version>/, and prints the binary's path (the one
# line on stdout). A binary already there is reused. PROMETHEUS_VERSION picks
# another version (the module's: v0.316.0 is Prometheus 3.16.0).
source "$(dirname "$0")/lib.sh"

version="${PROMETHEUS_VERSION:-v0.316.0}"
dir="${REPO_ROOT}/_output/cache/prometheus-${version}"
bin="${dir}/prometheus"
if [[ ! -x "${bin}" ]]; then
  log "building prometheus ${version} from source into ${dir} (several minutes cold; cached after)"
  mkdir -p "${dir}"
  # Into a scratch GOBIN first: an interrupted build leaves no half binary
  # that the next run would take for a cached one.
  tmp="$(mktemp -d "${dir}/.gobin-XXXXXX")"
  trap 'rm -rf "${tmp}"' EXIT
  GOBIN="${tmp}" GOFLAGS="${GOFLAGS:-} -mod=mod" \
    go install -trimpath "github.com/prometheus/prometheus/cmd/prometheus@${version}"
  mv "${tmp}/prometheus" "${bin}"
fi
echo "${bin}"
