package images

import (
	"context"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

func TestResolvePrebuiltSubstitutesArchAndNamesTheMakeTarget(t *testing.T) {
	root := t.TempDir()
	p := prebuilt{src: "distro/_output/e2e.test-linux-{arch}", path: "/usr/local/bin/e2e.test", makeTarget: "make -C distro e2e-{arch}"}
	_, err := resolvePrebuilt(root, "arm64", p)
	if err == nil || !strings.Contains(err.Error(), "distro/_output/e2e.test-linux-arm64") || !strings.Contains(err.Error(), "run 'make -C distro e2e-arm64' first") {
		t.Fatalf("missing file: err = %v, want the file and the make target, for arm64", err)
	}
	writeFile(t, filepath.Join(root, "distro/_output/e2e.test-linux-arm64"), "ELF1")
	f, err := resolvePrebuilt(root, "arm64", p)
	if err != nil {
		t.Fatal(err)
	}
	if e := f.entry(); e.Path != "/usr/local/bin/e2e.test" || e.Mode != 0o755 || string(e.Data) != "ELF1" {
		t.Errorf("entry %+v, want the file at its image path, mode 0755", e)
	}
	if !strings.Contains(f.source(), "prebuilt distro/_output/e2e.test-linux-arm64") {
		t.Errorf("source %q", f.source())
	}
	writeFile(t, filepath.Join(root, "distro/_output/e2e.test-linux-arm64"), "ELF2")
	g, err := resolvePrebuilt(root, "arm64", p)
	if err != nil || g.hash() == f.hash() {
		t.Errorf("changed content, same hash (err %v)", err)
	}
	p.mode = 0o644
	h, err := resolvePrebuilt(root, "arm64", p)
	if err != nil || h.hash() == g.hash() || h.entry().Mode != 0o644 {
		t.Errorf("mode not in the hash or the entry (err %v)", err)
	}
	if _, err := resolvePrebuilt(root, "arm64", prebuilt{src: "x", path: "relative"}); err == nil {
		t.Error("relative image path accepted")
	}
}

// TestBuildWithPrebuiltFiles packs an image of prebuilt files only (no Go,
// no apt): cached while the file is unchanged, rebuilt when it changes, the
// file in the image with its mode.
func TestBuildWithPrebuiltFiles(t *testing.T) {
	root := t.TempDir()
	writeFile(t, filepath.Join(root, "out", "tool-amd64"), "#!/bin/sh\necho v1\n")
	r := recipe{
		spec: Spec{Name: "example.com/tools/tool:1", Short: "tool", File: "tool-1.tar"},
		files: []prebuilt{
			{src: "out/tool-{arch}", path: "/usr/local/bin/tool", makeTarget: "make tool-{arch}"},
			{src: "out/tool-{arch}", path: "/usr/local/bin/suid-tool", mode: fs.ModeSetuid | 0o755},
		},
		entrypoint: []string{"/usr/local/bin/tool"},
		env:        []string{"TOOL_MODE=test"},
	}
	o := Options{RepoRoot: root, Arch: "amd64", Log: discard}
	if err := o.setDefaults(); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	first, err := buildOne(ctx, &o, r)
	if err != nil {
		t.Fatal(err)
	}
	if first.Cached || !strings.Contains(first.Source, "prebuilt out/tool-amd64") {
		t.Fatalf("first build %+v", first)
	}
	again, err := buildOne(ctx, &o, r)
	if err != nil || !again.Cached || again.Digest != first.Digest {
		t.Fatalf("unchanged file: %+v (err %v), want a cache hit", again, err)
	}
	writeFile(t, filepath.Join(root, "out", "tool-amd64"), "#!/bin/sh\necho v2\n")
	changed, err := buildOne(ctx, &o, r)
	if err != nil || changed.Cached || changed.Digest == first.Digest {
		t.Fatalf("changed file: %+v (err %v), want a rebuild with a new digest", changed, err)
	}

	tag, _ := name.NewTag(r.spec.Name)
	img, err := tarball.ImageFromPath(changed.Tarball, &tag)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(cf.Config.Env, " ") != defaultPath+" TOOL_MODE=test" {
		t.Errorf("env %q", cf.Config.Env)
	}
	layers, err := img.Layers()
	if err != nil || len(layers) != 1 {
		t.Fatalf("%d layers (err %v), want 1", len(layers), err)
	}
	rc, err := layers[0].Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	modes := map[string]int64{}
	for _, e := range readTar(t, b) {
		modes[e.hdr.Name] = e.hdr.Mode
		if e.hdr.Name == "usr/local/bin/tool" && e.data != "#!/bin/sh\necho v2\n" {
			t.Errorf("tool holds %q", e.data)
		}
	}
	if modes["usr/local/bin/tool"] != 0o755 || modes["usr/local/bin/suid-tool"] != 0o4755 {
		t.Errorf("modes %v", modes)
	}

	if err := os.Remove(filepath.Join(root, "out", "tool-amd64")); err != nil {
		t.Fatal(err)
	}
	if _, err := buildOne(ctx, &o, r); err == nil || !strings.Contains(err.Error(), "run 'make tool-amd64' first") {
		t.Errorf("missing prebuilt file: err = %v", err)
	}
}

// TestBuildRebuildsWhenExtraFilesChange: files a recipe's extra function
// makes are inputs by content, like prebuilt files.
func TestBuildRebuildsWhenExtraFilesChange(t *testing.T) {
	conf := "listen 80;"
	r := recipe{
		spec:       Spec{Name: "example.com/tools/conf:1", Short: "conf", File: "conf-1.tar"},
		extra:      func([]string) ([]entry, error) { return []entry{file("/etc/app.conf", 0o644, []byte(conf))}, nil },
		entrypoint: []string{"/bin/app"},
	}
	o := Options{RepoRoot: t.TempDir(), Arch: "arm64", Log: discard}
	if err := o.setDefaults(); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	first, err := buildOne(ctx, &o, r)
	if err != nil {
		t.Fatal(err)
	}
	if again, err := buildOne(ctx, &o, r); err != nil || !again.Cached {
		t.Fatalf("unchanged extra files: %+v (err %v), want a cache hit", again, err)
	}
	conf = "listen 8080;"
	changed, err := buildOne(ctx, &o, r)
	if err != nil || changed.Cached || changed.Digest == first.Digest {
		t.Fatalf("changed extra file: %+v (err %v), want a rebuild", changed, err)
	}
}
