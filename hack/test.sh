#!/usr/bin/env bash
# make test: what CI runs. Installs what it needs, then
#   1. unit tier: go test -short in both modules (seconds),
#   2. builds bin/distrobench and k3lite (amd64 and arm64; cached by source hash),
#   3. integration tier: real datastore servers, a real k3lite server on every
#      datastore, measurements against a live cluster,
#   4. end to end: 'distrobench run' on SQLite (with the upstream [Conformance]
#      suite's core subset), 'compare' of SQLite and PostgreSQL, the RKE2 profile (core too),
#      Ctrl-C, up/down, arm64 under qemu-user; assertions on the produced reports.
source "$(dirname "$0")/lib.sh"

log "prerequisites (apt packages only when missing)"
hack/install-deps.sh all

log "unit tier: harness"
go test -short -count=1 ./...
log "unit tier: distro (k3lite)"
(cd distro && go test -short -count=1 ./...)

log "build bin/distrobench and k3lite"
build_distrobench
DISTROBENCH_K3LITE="$(bin/distrobench build --arch amd64 | head -n1)"
DISTROBENCH_K3LITE_ARM64="$(bin/distrobench build --arch arm64 | head -n1)"
export DISTROBENCH_K3LITE DISTROBENCH_K3LITE_ARM64
export DISTROBENCH_BIN="${REPO_ROOT}/bin/distrobench"

log "build the etcd server the external-etcd datastore runs (make -C distro etcd-amd64; the release k3lite embeds)"
make -C distro etcd-amd64
export DISTROBENCH_ETCD="${REPO_ROOT}/distro/_output/etcd-linux-amd64"

log "build the upstream conformance suite: e2e.test + ginkgo (make -C distro e2e-amd64; ~25 min cold, seconds warm)"
make -C distro e2e-amd64

log "build the Prometheus server the --prometheus-url test scrapes the cluster with (hack/prometheus.sh; minutes cold, cached)"
DISTROBENCH_PROMETHEUS="$(hack/prometheus.sh)"
export DISTROBENCH_PROMETHEUS

log "integration tier: distro (flannel between simulated hosts, the embedded helper bundle)"
(cd distro && K3LITE_BIN="${DISTROBENCH_K3LITE}" go test -count=1 ./pkg/flannel/ ./pkg/bundle/)

log "integration tier: a live cluster for the measurement tests"
# With sonobuoy's images too: the sonobuoy runner's integration test runs its
# quick mode on this cluster (DISTROBENCH_SONOBUOY_KUBECONFIG).
up_out="$(bin/distrobench up --profile k3s --datastore sqlite --sonobuoy-images)"
echo "${up_out}"
run_dir="$(awk '/^run dir:/ {print $3}' <<<"${up_out}")"
trap 'bin/distrobench down --run-dir "${run_dir}" || true' EXIT
export DISTROBENCH_KUBECONFIG="$(awk '/^kubeconfig:/ {print $2}' <<<"${up_out}")"
export DISTROBENCH_SONOBUOY_KUBECONFIG="${DISTROBENCH_KUBECONFIG}"

log "integration tier: harness packages against real servers"
# -p 1: one package at a time (2 cores; the packages start real servers).
KUBECONFIG="${DISTROBENCH_KUBECONFIG}" go test -p 1 -count=1 -timeout 45m ./internal/... ./suites/... ./reports/...
bin/distrobench down --run-dir "${run_dir}"
trap - EXIT

log "end to end: distrobench run on SQLite, compare SQLite vs PostgreSQL, Ctrl-C, up/down, arm64"
go test -count=1 -timeout 60m -v ./cmd/distrobench/...
