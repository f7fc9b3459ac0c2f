package job

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"

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

// ImageMeasurements records what each node image is, where it came from and
// its digest, so a report says exactly what ran.
func ImageMeasurements(imgs []images.Image) []result.Measurement {
	out := make([]result.Measurement, 0, len(imgs))
	for _, img := range imgs {
		out = append(out, result.NewMeasurement("image.size", "bytes", map[string]string{
			"image": img.Name, "arch": img.Arch, "digest": img.Digest, "source": img.Source,
		}, []float64{float64(img.SizeBytes)}))
	}
	return out
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
