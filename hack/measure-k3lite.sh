#!/usr/bin/env bash
# Measures k3lite: build time, binary size, start-to-/readyz, idle memory and
# SIGTERM exit time. Prints one "name<TAB>value<TAB>unit" line per figure.
#
#   hack/measure-k3lite.sh                 # warm build, sizes, sqlite run
#   DATASTORES="sqlite etcd" hack/measure-k3lite.sh
#   MEASURE_COLD=1 hack/measure-k3lite.sh  # also a cold build (private GOCACHE, 10-20 min)
#   IDLE_SECONDS=60 SKIP_BUILD=1 ...
#
# DATASTORES: sqlite (default kine/SQLite), etcd (--cluster-init, embedded),
# mysql / postgres (need MYSQL_ENDPOINT / POSTGRES_ENDPOINT of a running
# server, e.g. started by the datastore scripts). Every process this script
# starts is killed by PID on exit.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
distro="$root/distro"
out="$distro/_output"
idle="${IDLE_SECONDS:-60}"
datastores="${DATASTORES:-sqlite}"
port="${PORT:-16443}"
work="$(mktemp -d /tmp/measure-k3lite.XXXXXX)"
pids=()

cleanup() {
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

emit() { printf '%s\t%s\t%s\n' "$1" "$2" "$3"; }
now_ms() { date +%s%3N; }

build() {
  local start end
  start=$(now_ms)
  make -s -C "$distro" "$@" >/dev/null
  end=$(now_ms)
  echo $((end - start))
}

if [ "${SKIP_BUILD:-0}" != 1 ]; then
  if [ "${MEASURE_COLD:-0}" = 1 ]; then
    cold_cache="$work/gocache"
    mkdir -p "$cold_cache"
    emit build_cold_amd64 "$(GOCACHE="$cold_cache" build build-amd64)" ms
    rm -rf "$cold_cache"
  fi
  build build >/dev/null # bring both up to date first
  touch "$distro/cmd/k3lite/main.go"
  emit build_warm_amd64 "$(build build-amd64)" ms
  emit build_noop_amd64 "$(build build-amd64)" ms
fi

for arch in amd64 arm64; do
  bin="$out/k3lite-linux-$arch"
  [ -f "$bin" ] || continue
  emit "size_raw_$arch" "$(stat -c %s "$bin")" bytes
  emit "size_zstd19_$arch" "$(zstd -19 -q -c "$bin" | wc -c)" bytes
  emit "size_xz9_$arch" "$(xz -9 -c "$bin" | wc -c)" bytes
done

bin="$out/k3lite-linux-amd64"
for ds in $datastores; do
  dir="$work/$ds"
  mkdir -p "$dir"
  args=(server --disable-agent --data-dir "$dir" --write-kubeconfig "$dir/kc.yaml" --https-listen-port "$port")
  case "$ds" in
    sqlite) ;;
    etcd) args+=(--cluster-init) ;;
    mysql) args+=(--datastore-endpoint "${MYSQL_ENDPOINT:?set MYSQL_ENDPOINT}") ;;
    postgres) args+=(--datastore-endpoint "${POSTGRES_ENDPOINT:?set POSTGRES_ENDPOINT}") ;;
    *) echo "unknown datastore $ds" >&2; exit 2 ;;
  esac
  start=$(now_ms)
  "$bin" "${args[@]}" >"$dir/log" 2>&1 &
  pid=$!
  pids+=("$pid")
  ready=""
  for _ in $(seq 1 1200); do
    if curl -skf -o /dev/null "https://127.0.0.1:$port/readyz"; then ready=$(now_ms); break; fi
    if ! kill -0 "$pid" 2>/dev/null; then echo "k3lite ($ds) exited; log: $dir/log" >&2; tail -20 "$dir/log" >&2; exit 1; fi
    sleep 0.05
  done
  [ -n "$ready" ] || { echo "k3lite ($ds) not ready after 60 s" >&2; exit 1; }
  emit "start_to_readyz_$ds" $((ready - start)) ms
  sleep "$idle"
  rss=$(awk '/^Rss:/ {print $2}' "/proc/$pid/smaps_rollup")
  pss=$(awk '/^Pss:/ {print $2}' "/proc/$pid/smaps_rollup")
  emit "idle_${idle}s_vmrss_$ds" "$rss" kB
  emit "idle_${idle}s_pss_$ds" "$pss" kB
  start=$(now_ms)
  kill -TERM "$pid"
  rc=0
  wait "$pid" || rc=$?
  emit "sigterm_exit_$ds" $(($(now_ms) - start)) ms
  emit "sigterm_exit_code_$ds" "$rc" code
done
