package bundle

import "embed"

// assets holds ArchiveName once `make -C distro build-amd64` has made it,
// and a placeholder README.md always (go:embed needs a file to match).
//
//go:embed assets/amd64
var assets embed.FS

const assetDir = "assets/amd64"
