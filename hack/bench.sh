#!/usr/bin/env bash
# The slow, exhaustive matrices (not for CI): the K3s-style profile on every
# datastore with the whole upstream [Conformance] suite (certified: about an
# hour per datastore on 2 cores), then K3s-style vs RKE2-style (the upstream
# core subset), with full repeats and a 60 s idle window. Each cell writes
# its own report under reports/out/.
source "$(dirname "$0")/lib.sh"
hack/install-deps.sh all
build_distrobench
failed=0
log "matrix profiles/matrix/datastores.yaml (upstream certified)"
bin/distrobench matrix profiles/matrix/datastores.yaml --upstream certified "$@" || failed=$((failed+1))
log "matrix profiles/matrix/k3s-vs-rke2.yaml"
bin/distrobench matrix profiles/matrix/k3s-vs-rke2.yaml "$@" || failed=$((failed+1))
exit $(( failed > 0 ))
