package build

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// Inspect measures a distribution binary distrobench did not build (a k3s,
// rke2 or prebuilt k3lite given with --binary): its sizes raw and compressed,
// so reports compare like with like. Nothing is built; the compressed sizes
// are cached by the binary's content hash under o.CacheDir/inspect, as built
// binaries' are, because measuring them takes minutes.
func Inspect(ctx context.Context, o Options, path string) (*Artifact, error) {
	if err := o.setDefaults(); err != nil {
		return nil, err
	}
	hash, err := fileHash(path)
	if err != nil {
		return nil, fmt.Errorf("inspect binary: %w", err)
	}
	a := &Artifact{Path: path, Arch: o.Arch, SourceHash: hash, Cached: true}
	dir := filepath.Join(o.CacheDir, "inspect")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("creating build cache dir: %w (set a writable cache dir)", err)
	}
	if err := sizes(ctx, o, a, filepath.Join(dir, hash+".sizes.json")); err != nil {
		return nil, err
	}
	return a, nil
}

func fileHash(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("read %s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
