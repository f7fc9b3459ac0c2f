#!/usr/bin/env bash
# Builds the harness (bin/distrobench) and k3lite for this host's arch.
source "$(dirname "$0")/lib.sh"
log "building bin/distrobench"
build_distrobench
log "building k3lite (cached by source hash under _output/cache)"
bin/distrobench build "$@"
