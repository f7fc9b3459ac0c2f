#!/usr/bin/env bash
# Installs the Debian packages distrobench needs, only those that are missing.
#
#   hack/install-deps.sh datastores   # mariadb-server postgresql etcd-server etcd-client
#   hack/install-deps.sh tools        # zstd xz-utils iproute2 procps iptables nftables util-linux
#   hack/install-deps.sh arm64        # qemu-user-static binfmt-support, binfmt enabled (arm64 binaries run here)
#   hack/install-deps.sh helpers      # gcc pkg-config libseccomp-dev: runc (cgo + seccomp) for amd64
#   hack/install-deps.sh helpers-arm64 # aarch64 cross gcc + an arm64 libseccomp sysroot in distro/_output/sysroot/arm64
#   hack/install-deps.sh images       # apt lists for amd64+arm64 Debian packages (images are made of them), C toolchains for busybox (both arches), containerd+ctr for the images test
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
  echo "usage: $0 datastores|tools|arm64|helpers|helpers-arm64|images|all ..." >&2
  exit 2
}

[ $# -ge 1 ] || usage

datastores=(mariadb-server mariadb-client postgresql etcd-server etcd-client)
# iptables/nftables: kube-proxy and flannel program them inside the nodes'
# network namespaces; nsenter (util-linux) starts the nodes there.
tools=(zstd xz-utils iproute2 procps iptables nftables util-linux)
arm64=(qemu-user-static binfmt-support)
# distro/Makefile builds runc with cgo and libseccomp, linked statically
# (libseccomp-dev ships libseccomp.a); the arm64 build cross-compiles with
# Debian's aarch64 toolchain against an arm64 libseccomp unpacked into a
# sysroot (see ensure_sysroot).
helpers=(gcc libc6-dev pkg-config libseccomp-dev)
helpers_arm64=(gcc-aarch64-linux-gnu libc6-dev-arm64-cross pkg-config)

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# Kept out of git (distro/_output is ignored); distro/Makefile reads it.
SYSROOT_ARM64="${REPO_ROOT}/distro/_output/sysroot/arm64"

want=()
enable_binfmt=0
make_sysroot=0
# images: the agnhost, nginx, glibc-dns-testing... images are made of Debian
# packages (curl, bind9-dnsutils, nginx... with their dependency closure),
# which `distrobench images build` resolves with apt against an empty
# package status and fetches with apt-get download for amd64 or arm64
# (nothing is installed here), so dpkg must know the other arch and apt's
# lists must be current. busybox, in every image with a shell, is built from
# its upstream source (fetched with apt-get source into a private apt state)
# for both arches: make, bzip2 (the tarball), the native gcc with libc6-dev,
# and the cross gcc with its C library for the other arch (static links).
# containerd (Debian's 1.6, with ctr and runc) is for internal/images'
# integration test, which imports the archives and runs busybox; iproute2
# brings loopback up in the private network namespace where that test runs
# nginx from an unpacked image.
case "$(dpkg --print-architecture)" in
  arm64) images_cross=(gcc-x86-64-linux-gnu libc6-dev-amd64-cross) ;;
  *) images_cross=(gcc-aarch64-linux-gnu libc6-dev-arm64-cross) ;;
esac
images=(containerd iproute2 make bzip2 gcc libc6-dev "${images_cross[@]}")
foreign_lists=0
for group in "$@"; do
  case "$group" in
    datastores) want+=("${datastores[@]}") ;;
    tools) want+=("${tools[@]}") ;;
    arm64) want+=("${arm64[@]}"); enable_binfmt=1 ;;
    helpers) want+=("${helpers[@]}") ;;
    helpers-arm64) want+=("${helpers_arm64[@]}"); make_sysroot=1 ;;
    images) want+=("${images[@]}"); foreign_lists=1 ;;
    all) want+=("${datastores[@]}" "${tools[@]}" "${arm64[@]}" "${helpers[@]}" "${helpers_arm64[@]}" "${images[@]}")
      enable_binfmt=1; make_sysroot=1; foreign_lists=1 ;;
    -h|--help) usage ;;
    *) echo "$0: unknown group '$group' (valid: datastores, tools, arm64, helpers, helpers-arm64, images, all)" >&2; exit 2 ;;
  esac
done

installed() {
  dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'
}

# The images' Debian packages of both arches must be downloadable (images
# group); bash, in several images, stands for them.
if [ "$foreign_lists" = 1 ]; then
  native=$(dpkg --print-architecture)
  for a in amd64 arm64; do
    [ "$a" = "$native" ] && continue
    dpkg --print-foreign-architectures | grep -qx "$a" && continue
    [ "$(id -u)" -eq 0 ] || { echo "install-deps: need root to add the $a architecture to dpkg (run: sudo $0 $*)" >&2; exit 1; }
    echo "install-deps: adding the $a architecture to dpkg (for apt-get download of the images' packages for $a)"
    dpkg --add-architecture "$a"
    apt-get -o DPkg::Lock::Timeout=600 update -qq
  done
  for a in amd64 arm64; do
    if ! apt-cache show --no-all-versions "bash:$a" >/dev/null 2>&1; then
      [ "$(id -u)" -eq 0 ] || { echo "install-deps: apt does not know bash:$a; run: sudo apt-get update" >&2; exit 1; }
      apt-get -o DPkg::Lock::Timeout=600 update -qq
      break
    fi
  done
fi

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

# The arm64 libseccomp sysroot: Debian's libseccomp-dev:arm64 and
# libseccomp2:arm64 unpacked with dpkg -x (not installed: they would replace
# nothing on this amd64 host, but installing a foreign-arch -dev package pulls
# in foreign-arch dependencies). Made once; delete the directory to refresh it.
# Made in a temporary directory and renamed into place, so an interrupted run
# never leaves a half sysroot that looks done.
ensure_sysroot() {
  [ "$make_sysroot" -eq 1 ] || return 0
  local stamp="${SYSROOT_ARM64}/.debs"
  if [ -f "$stamp" ] && [ -f "${SYSROOT_ARM64}/usr/lib/aarch64-linux-gnu/libseccomp.a" ]; then
    return 0
  fi
  if [ "$(id -u)" -ne 0 ]; then
    echo "install-deps: need root to make the arm64 libseccomp sysroot (run: sudo $0 helpers-arm64)" >&2
    exit 1
  fi
  if ! dpkg --print-foreign-architectures | grep -qx arm64; then
    echo "install-deps: adding the arm64 architecture to dpkg (for apt-get download of libseccomp:arm64)"
    dpkg --add-architecture arm64
    apt-get -o DPkg::Lock::Timeout=600 update -qq
  fi
  local tmp
  mkdir -p "$(dirname "$SYSROOT_ARM64")"
  tmp=$(mktemp -d "${SYSROOT_ARM64}.tmp.XXXXXX")
  chmod 0755 "$tmp" # apt-get download fetches as user _apt
  if ! (cd "$tmp" && apt-get download -qq libseccomp-dev:arm64 libseccomp2:arm64); then
    apt-get -o DPkg::Lock::Timeout=600 update -qq
    (cd "$tmp" && apt-get download -qq libseccomp-dev:arm64 libseccomp2:arm64)
  fi
  mkdir "$tmp/root"
  for deb in "$tmp"/*.deb; do
    dpkg -x "$deb" "$tmp/root"
    basename "$deb" >>"$tmp/root/.debs"
  done
  [ -f "$tmp/root/usr/lib/aarch64-linux-gnu/libseccomp.a" ] || {
    echo "install-deps: libseccomp-dev:arm64 has no libseccomp.a: cannot link runc statically for arm64" >&2; exit 1; }
  rm -rf "$SYSROOT_ARM64"
  mv "$tmp/root" "$SYSROOT_ARM64"
  rm -rf "$tmp"
  echo "install-deps: arm64 libseccomp sysroot in $SYSROOT_ARM64 ($(tr '\n' ' ' <"$SYSROOT_ARM64/.debs"))"
}

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: already installed: ${want[*]}"
  ensure_binfmt
  ensure_sysroot
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
ensure_sysroot
echo "install-deps: done"
