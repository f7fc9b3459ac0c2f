# Sourced by the hack/ scripts: repo root, Go environment, the distrobench binary.
set -euo pipefail
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export PATH="/usr/local/go/bin:${PATH}:$(go env GOPATH 2>/dev/null || echo /root/go)/bin"
cd "${REPO_ROOT}"

log() { printf '\n### %s\n' "$*" >&2; }

# build_distrobench builds bin/distrobench (the harness: light, quick to build).
build_distrobench() {
  local version
  version="$(git describe --always --dirty 2>/dev/null || echo dev)"
  go build -trimpath -ldflags "-X github.com/distrobench/distrobench/internal/cli.Version=${version}" \
    -o "${REPO_ROOT}/bin/distrobench" ./cmd/distrobench
}
