#!/usr/bin/env bash
# The slow, exhaustive matrix: every datastore for the K3s-style profile, then
# the RKE2-style profile, with full repeats and a 60 s idle window. Each cell
# writes its own report under reports/out/.
source "$(dirname "$0")/lib.sh"
hack/install-deps.sh all
build_distrobench
failed=0
for ds in sqlite embedded-etcd etcd mysql postgres; do
  log "k3s on ${ds}"
  bin/distrobench run --profile k3s --datastore "${ds}" "$@" || failed=$((failed+1))
done
log "rke2 (embedded etcd)"
bin/distrobench run --profile rke2 "$@" || failed=$((failed+1))
echo "bench matrix: ${failed} cell(s) failed; reports in reports/out/"
exit $(( failed > 0 ))
