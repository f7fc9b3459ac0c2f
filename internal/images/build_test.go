package images

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// repoRoot is the distrobench checkout these tests run in.
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "distro", "images", "pause", "main.go")); err != nil {
		t.Fatalf("not in a distrobench checkout: %v", err)
	}
	return root
}

// TestBuildPauseIsCachedAndReproducible builds the real pause image (a
// standard-library Go program: seconds) into a temp dir, twice, and once
// more after its record is deleted: the second call is a cache hit, the
// rebuild yields the same digest.
func TestBuildPauseIsCachedAndReproducible(t *testing.T) {
	ctx := context.Background()
	o := Options{RepoRoot: repoRoot(t), Arch: "arm64", OutDir: t.TempDir(), CacheDir: t.TempDir(), Names: []string{"pause"}}
	first, err := Build(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	if len(first) != 1 || first[0].Cached || first[0].Name != PauseName || first[0].Arch != "arm64" {
		t.Fatalf("first build: %+v", first)
	}
	img := first[0]
	if !strings.HasPrefix(img.Digest, "sha256:") || img.SizeBytes <= 0 || !strings.Contains(img.Source, "distro/images/pause") {
		t.Errorf("image record %+v", img)
	}

	second, err := Build(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	if !second[0].Cached || second[0].Digest != img.Digest {
		t.Errorf("second build not a cache hit with the same digest: %+v", second[0])
	}
	found, err := Find(o)
	if err != nil || len(found) != 1 || found[0].Digest != img.Digest || found[0].Tarball != img.Tarball {
		t.Errorf("Find = %+v (err %v), want the built image", found, err)
	}

	if err := os.Remove(stampPath(o.OutDir, recipes[0])); err != nil {
		t.Fatal(err)
	}
	third, err := Build(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	if third[0].Cached || third[0].Digest != img.Digest {
		t.Errorf("rebuild: cached %t digest %s, want a fresh build with digest %s", third[0].Cached, third[0].Digest, img.Digest)
	}

	tag, _ := name.NewTag(PauseName)
	loaded, err := tarball.ImageFromPath(img.Tarball, &tag)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := loaded.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if cf.Architecture != "arm64" || len(cf.Config.Entrypoint) != 1 || cf.Config.Entrypoint[0] != "/pause" {
		t.Errorf("config: arch %s entrypoint %q", cf.Architecture, cf.Config.Entrypoint)
	}
	if id, _ := loaded.ConfigName(); id.String() != img.ID {
		t.Errorf("config digest %s, recorded %s", id, img.ID)
	}
}

func TestFindWithoutBuildsIsEmpty(t *testing.T) {
	got, err := Find(Options{RepoRoot: t.TempDir(), Arch: runtime.GOARCH})
	if err != nil || len(got) != 0 {
		t.Fatalf("Find = %+v, %v; want nothing", got, err)
	}
}

func TestBuildRejectsUnknownArchAndName(t *testing.T) {
	if _, err := Build(context.Background(), Options{RepoRoot: t.TempDir(), Arch: "riscv64"}); err == nil || !strings.Contains(err.Error(), "riscv64") {
		t.Errorf("arch riscv64: err = %v", err)
	}
	if _, err := Build(context.Background(), Options{RepoRoot: t.TempDir(), Names: []string{"nope"}}); err == nil || !strings.Contains(err.Error(), "nope") {
		t.Errorf("name nope: err = %v", err)
	}
}

func TestDebPackageFileNameEscapesTheEpoch(t *testing.T) {
	p := debPackage{Name: "bash", Arch: "arm64", Version: "1:5.2.15-2+b7"}
	if got := p.fileName(); got != "bash_1%3a5.2.15-2+b7_arm64.deb" {
		t.Errorf("file name %q", got)
	}
}
