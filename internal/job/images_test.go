package job

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/distrobench/distrobench/internal/images"
)

func TestImagesFileRoundTrip(t *testing.T) {
	dir := t.TempDir()
	if imgs, err := ReadImages(dir); err != nil || imgs != nil {
		t.Fatalf("ReadImages of a run without the file = %v, %v; want nil, nil", imgs, err)
	}
	in := []images.Image{{Name: "registry.k8s.io/pause:3.10.2", Arch: "amd64", Digest: "sha256:abc", Source: "go", SizeBytes: 42}}
	if err := WriteImages(dir, in); err != nil {
		t.Fatal(err)
	}
	out, err := ReadImages(dir)
	if err != nil || len(out) != 1 || out[0].Name != in[0].Name || out[0].Digest != in[0].Digest {
		t.Fatalf("ReadImages = %+v, %v", out, err)
	}
	ms := ImageMeasurements(out)
	if len(ms) != 1 || ms[0].Labels["digest"] != "sha256:abc" || ms[0].Samples[0] != 42 {
		t.Errorf("ImageMeasurements = %+v", ms)
	}
	if err := os.WriteFile(filepath.Join(dir, ImagesFile), []byte("{"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadImages(dir); err == nil {
		t.Error("ReadImages accepted a broken file")
	}
}
