package build

import (
	"context"
	"fmt"
	"os"
)

// Inspect measures a distribution binary distrobench did not build (a k3s,
// rke2 or prebuilt k3lite given with --binary): its sizes raw and compressed,
// so reports compare like with like. Nothing is cached or built.
func Inspect(path, arch string) (*Artifact, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("inspect binary: %w", err)
	}
	a := &Artifact{Path: path, Arch: arch, Cached: true, SizeRaw: fi.Size()}
	if a.SizeZstd, a.ZstdMethod, a.SizeXz, a.XzMethod, err = compressedSizes(context.Background(), path); err != nil {
		return nil, fmt.Errorf("measure compressed size of %s: %w", path, err)
	}
	return a, nil
}
