package job

import (
	"os"
	"path/filepath"
	"strings"
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
	if len(ms) != 1 || ms[0].Attributes["digest"] != "sha256:abc" || ms[0].Samples[0] != 42 {
		t.Errorf("ImageMeasurements = %+v", ms)
	}
	if err := os.WriteFile(filepath.Join(dir, ImagesFile), []byte("{"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadImages(dir); err == nil {
		t.Error("ReadImages accepted a broken file")
	}
}

// Issue 11 defect 12: labels are short keys that a chart axis can show; an
// image's source list and digest are provenance, kept in the attributes.
func TestImageMeasurementLabelsAreShortKeys(t *testing.T) {
	var imgs []images.Image
	for _, spec := range images.List() {
		imgs = append(imgs, images.Image{
			Name: spec.Name, Arch: "arm64", Source: spec.Source + " + debian libc6 2.36-9+deb12u10",
			Digest: "sha256:" + strings.Repeat("ab", 32), ID: "sha256:" + strings.Repeat("cd", 32), SizeBytes: 1 << 20,
		})
	}
	ms := ImageMeasurements(imgs)
	if len(ms) != len(imgs) {
		t.Fatalf("%d measurements for %d images", len(ms), len(imgs))
	}
	seen := map[string]string{}
	for i, m := range ms {
		for k, v := range m.Labels {
			if len(v) > 63 || strings.Contains(v, ", ") || strings.Contains(v, " + ") || strings.Contains(v, " ") {
				t.Errorf("%s: label %s=%q is not a short key (%d chars): provenance belongs in Attributes", imgs[i].Name, k, v, len(v))
			}
		}
		if other, dup := seen[m.Labels["image"]]; dup {
			t.Errorf("images %s and %s share the label image=%s", other, imgs[i].Name, m.Labels["image"])
		}
		seen[m.Labels["image"]] = imgs[i].Name
		a := m.Attributes
		if a["source"] != imgs[i].Source || a["digest"] != imgs[i].Digest || a["reference"] != imgs[i].Name || a["id"] != imgs[i].ID {
			t.Errorf("%s: attributes %v lack the full reference, source, digest or id", imgs[i].Name, a)
		}
	}
	if got := ms[0].Labels["image"]; got != "pause:3.10.2" {
		t.Errorf("label image=%q, want pause:3.10.2", got)
	}
}
