package bundle

import "embed"

// assets holds ArchiveName once `make -C distro build-arm64` has made it,
// and a placeholder README.md always (go:embed needs a file to match).
//
//go:embed assets/arm64
var assets embed.FS

const assetDir = "assets/arm64"
