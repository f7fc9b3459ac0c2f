package job

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/distrobench/distrobench/internal/atomicfile"
	"github.com/distrobench/distrobench/internal/images"
	"github.com/distrobench/distrobench/internal/result"
)

// NodeImages builds (or finds cached) the image archives every node imports
// at start: nodes pull nothing, as in an air-gapped K3s install.
func NodeImages(ctx context.Context, repoRoot, arch string, withSonobuoy bool, log *slog.Logger, status func(string)) ([]images.Image, error) {
	var names []string // every catalog image, sonobuoy's only when asked
	sonobuoyOnly := images.SonobuoyNames()
	for _, s := range images.List() {
		if withSonobuoy || !slices.Contains(sonobuoyOnly, s.Name) {
			names = append(names, s.Name)
		}
	}
	imgs, err := images.Build(ctx, images.Options{RepoRoot: repoRoot, Arch: arch, Names: names, Log: log, Progress: status})
	if err != nil {
		return nil, fmt.Errorf("build the node images: %w", err)
	}
	return imgs, nil
}

// Tarballs lists the archives of imgs.
func Tarballs(imgs []images.Image) []string {
	out := make([]string, 0, len(imgs))
	for _, img := range imgs {
		out = append(out, img.Tarball)
	}
	return out
}

// ImageMeasurements records each node image's archive size as "image.size",
// labelled by short keys only ({image: "<name>:<tag>", arch}), so charts can
// tell the images apart; what exactly ran (the full reference, where it came
// from, its digests) is kept in the measurement's attributes.
func ImageMeasurements(imgs []images.Image) []result.Measurement {
	out := make([]result.Measurement, 0, len(imgs))
	for _, img := range imgs {
		m := result.NewMeasurement("image.size", "bytes", map[string]string{
			"image": shortImageName(img.Name), "arch": img.Arch,
		}, []float64{float64(img.SizeBytes)})
		m.Description = "size of the image archive every node imports (nodes pull nothing)"
		m.Attributes = nonEmptyAttributes(map[string]string{
			"reference": img.Name, "digest": img.Digest, "id": img.ID, "source": img.Source,
		})
		out = append(out, m)
	}
	return out
}

// shortImageName is the last path element of an image reference with its
// tag: "registry.k8s.io/e2e-test-images/agnhost:2.66.1" -> "agnhost:2.66.1".
// The catalog's images are unique by it, and it fits a chart's axis.
func shortImageName(ref string) string {
	if i := strings.LastIndexByte(ref, '/'); i >= 0 {
		return ref[i+1:]
	}
	return ref
}

func nonEmptyAttributes(attrs map[string]string) map[string]string {
	maps.DeleteFunc(attrs, func(_, v string) bool { return v == "" })
	return attrs
}

// ImagesFile is the file in a run directory listing the images its nodes
// imported, so a later command on the cluster (conformance --upstream) can
// say in its report exactly what the pods ran.
const ImagesFile = "images.json"

// WriteImages records imgs in runDir/ImagesFile.
func WriteImages(runDir string, imgs []images.Image) error {
	b, err := json.MarshalIndent(imgs, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.Write(filepath.Join(runDir, ImagesFile), b, 0o644)
}

// ReadImages returns what WriteImages recorded in runDir (nil, nil when the
// file does not exist: a cluster without nodes, or from an older version).
func ReadImages(runDir string) ([]images.Image, error) {
	b, err := os.ReadFile(filepath.Join(runDir, ImagesFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var imgs []images.Image
	if err := json.Unmarshal(b, &imgs); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(runDir, ImagesFile), err)
	}
	return imgs, nil
}
