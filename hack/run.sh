#!/usr/bin/env bash
# The main job on a fresh machine: install prerequisites, build the harness,
# then 'distrobench run' (build k3lite, deploy on SQLite, conformance +
# benchmarks, report under reports/out/latest/).
source "$(dirname "$0")/lib.sh"
log "installing prerequisites (apt packages only when missing)"
hack/install-deps.sh tools helpers images
log "building bin/distrobench"
build_distrobench
log "distrobench run --profile k3s --datastore sqlite $*"
exec bin/distrobench run --profile k3s --datastore sqlite "$@"
