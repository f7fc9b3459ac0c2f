package job

import (
	"context"
	"fmt"
	"log/slog"
	"slices"

	"github.com/distrobench/distrobench/internal/images"
	"github.com/distrobench/distrobench/internal/result"
)

// NodeImages builds (or finds cached) the image archives every node imports
// at start: nodes pull nothing, as in an air-gapped K3s install.
func NodeImages(ctx context.Context, repoRoot, arch string, withSonobuoy bool, log *slog.Logger, status func(string)) ([]images.Image, error) {
	var names []string // every catalog image, sonobuoy's only when asked
	for _, s := range images.List() {
		if withSonobuoy || !slices.Contains(images.SonobuoyNames(), s.Name) {
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
