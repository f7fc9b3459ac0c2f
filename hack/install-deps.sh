#!/usr/bin/env bash
# Installs the Debian packages distrobench needs, only those that are missing.
#
#   hack/install-deps.sh datastores   # mariadb-server postgresql etcd-server etcd-client
#   hack/install-deps.sh tools        # zstd xz-utils iproute2 procps
#   hack/install-deps.sh arm64        # qemu-user-static binfmt-support, binfmt enabled (arm64 binaries run here)
#   hack/install-deps.sh all          # all of the above
#
# Idempotent: every package is checked with dpkg first; `apt-get update` runs
# once, and only when something has to be installed. There is no systemd here
# and distrobench starts every datastore itself as a supervised child, so the
# packages' maintainer scripts must not start system services: a temporary
# policy-rc.d that answers 101 ("action not allowed") makes invoke-rc.d skip
# them, and any system instance that starts anyway is stopped afterwards.
set -euo pipefail

usage() {
  echo "usage: $0 datastores|tools|all" >&2
  exit 2
}

[ $# -ge 1 ] || usage

datastores=(mariadb-server mariadb-client postgresql etcd-server etcd-client)
tools=(zstd xz-utils iproute2 procps)
arm64=(qemu-user-static binfmt-support)

want=()
enable_binfmt=0
for group in "$@"; do
  case "$group" in
    datastores) want+=("${datastores[@]}") ;;
    tools) want+=("${tools[@]}") ;;
    arm64) want+=("${arm64[@]}"); enable_binfmt=1 ;;
    all) want+=("${datastores[@]}" "${tools[@]}" "${arm64[@]}"); enable_binfmt=1 ;;
    -h|--help) usage ;;
    *) echo "$0: unknown group '$group' (valid: datastores, tools, arm64, all)" >&2; exit 2 ;;
  esac
done

installed() {
  dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'
}

missing=()
for p in "${want[@]}"; do
  installed "$p" || missing+=("$p")
done

# binfmt_misc lets the kernel run arm64 binaries through qemu-user: it is
# machine state, not a package, so it is checked (and enabled) on every call.
ensure_binfmt() {
  [ "$enable_binfmt" -eq 1 ] || return 0
  if [ ! -e /proc/sys/fs/binfmt_misc/register ]; then
    mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
  fi
  if [ ! -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ]; then
    update-binfmts --enable qemu-aarch64
  fi
  grep -q '^enabled' /proc/sys/fs/binfmt_misc/qemu-aarch64 || {
    echo "install-deps: qemu-aarch64 binfmt handler is not enabled" >&2; exit 1; }
}

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: already installed: ${want[*]}"
  ensure_binfmt
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: need root to install: ${missing[*]} (run: sudo $0 $*)" >&2
  exit 1
fi

echo "install-deps: installing ${missing[*]}"

# Keep maintainer scripts from starting services (restored on exit).
policy=/usr/sbin/policy-rc.d
policy_backup=""
if [ -e "$policy" ]; then
  policy_backup=$(mktemp)
  cp -p "$policy" "$policy_backup"
fi
restore_policy() {
  if [ -n "$policy_backup" ]; then
    mv -f "$policy_backup" "$policy"
  else
    rm -f "$policy"
  fi
}
trap restore_policy EXIT
printf '#!/bin/sh\nexit 101\n' >"$policy"
chmod 0755 "$policy"

export DEBIAN_FRONTEND=noninteractive
# Wait for another apt/dpkg run (another script, an unattended job) instead of failing.
apt_opts=(-o DPkg::Lock::Timeout=600)
apt-get "${apt_opts[@]}" update -qq
apt-get "${apt_opts[@]}" install -y -qq --no-install-recommends "${missing[@]}" >/dev/null

# Belt and braces: a package that started its system instance regardless
# (some postinst scripts bypass invoke-rc.d) is stopped here, by PID, only if
# it is the packaged system instance (its pid file lives under /run).
stop_pidfile() {
  local f=$1 pid
  [ -f "$f" ] || return 0
  pid=$(head -n1 "$f" 2>/dev/null || true)
  if [[ "$pid" =~ ^[0-9]+$ ]] && [ "$pid" -gt 1 ] && kill -0 "$pid" 2>/dev/null; then
    echo "install-deps: stopping system instance started by the package (pid $pid from $f)"
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.2; done
    kill -KILL "$pid" 2>/dev/null || true
  fi
}
stop_pidfile /run/mysqld/mysqld.pid
for f in /var/run/postgresql/*.pid /var/lib/postgresql/*/main/postmaster.pid; do
  [ -e "$f" ] && stop_pidfile "$f"
done

still=()
for p in "${missing[@]}"; do
  installed "$p" || still+=("$p")
done
if [ ${#still[@]} -gt 0 ]; then
  echo "install-deps: failed to install: ${still[*]}" >&2
  exit 1
fi
ensure_binfmt
echo "install-deps: done"
