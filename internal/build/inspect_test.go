package build

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestInspectCachesSizesByContent(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "k3s")
	if err := os.WriteFile(bin, []byte(strings.Repeat("not really a k3s binary ", 4096)), 0o755); err != nil {
		t.Fatal(err)
	}
	o := Options{RepoRoot: dir, Arch: "amd64", CacheDir: filepath.Join(dir, "cache")}
	a, err := Inspect(context.Background(), o, bin)
	if err != nil {
		t.Fatal(err)
	}
	if a.SizeRaw != 4096*24 || a.SizeZstd <= 0 || a.SizeZstd >= a.SizeRaw || a.SizeXz <= 0 {
		t.Fatalf("sizes raw %d zstd %d xz %d", a.SizeRaw, a.SizeZstd, a.SizeXz)
	}
	// A second inspection of the same content reads the cache: prove it by
	// planting a marker value there.
	cacheFile := filepath.Join(o.CacheDir, "inspect", a.SourceHash+".sizes.json")
	var s sizesFile
	b, err := os.ReadFile(cacheFile)
	if err != nil || json.Unmarshal(b, &s) != nil {
		t.Fatalf("sizes cache %s: %v", cacheFile, err)
	}
	s.Zstd = 12345
	b, _ = json.Marshal(s)
	if err := os.WriteFile(cacheFile, b, 0o644); err != nil {
		t.Fatal(err)
	}
	again, err := Inspect(context.Background(), o, bin)
	if err != nil || again.SizeZstd != 12345 {
		t.Errorf("second Inspect: zstd %d, err %v; want the cached 12345", again.SizeZstd, err)
	}
}
