#!/usr/bin/env bash
# The slow, exhaustive matrices (not for CI): the K3s-style profile on every
# datastore, then K3s-style vs RKE2-style, with full repeats and a 60 s idle
# window. Each cell writes its own report under reports/out/.
source "$(dirname "$0")/lib.sh"
hack/install-deps.sh all
build_distrobench
failed=0
for m in profiles/matrix/datastores.yaml profiles/matrix/k3s-vs-rke2.yaml; do
  log "matrix ${m}"
  bin/distrobench matrix "${m}" "$@" || failed=$((failed+1))
done
exit $(( failed > 0 ))
