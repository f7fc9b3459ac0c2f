#!/usr/bin/env bash
# Builds the air-gapped images (pause, CoreDNS, busybox, agnhost and the upstream [Conformance] images) for amd64 and
# arm64 into _output/images/<arch>/, cached by input hash (a cold CoreDNS or
# agnhost build takes minutes on 2 cores; a warm run takes seconds).
#
#   hack/images.sh                 # every image, both arches
#   hack/images.sh pause busybox   # only these, both arches
#   ARCHES=amd64 hack/images.sh    # one arch
source "$(dirname "$0")/lib.sh"
log "prerequisites: compilers, make and apt lists for every arch (apt packages only when missing)"
hack/install-deps.sh images
log "building bin/distrobench"
build_distrobench
for arch in ${ARCHES:-amd64 arm64}; do
  log "images for linux/${arch}"
  bin/distrobench images build --arch "${arch}" "$@"
done
