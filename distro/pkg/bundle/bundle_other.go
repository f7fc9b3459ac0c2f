//go:build !amd64 && !arm64

package bundle

import "embed"

// k3lite bundles helpers for amd64 and arm64 only.
var assets embed.FS

const assetDir = ""
