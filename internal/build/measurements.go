package build

import "github.com/distrobench/distrobench/internal/result"

// Measurements returns what a build measured: "build.duration" (seconds, only
// for a build that ran, not a cache hit) and "binary.size" (bytes) per
// compression, labelled {arch, compression: none|zstd-19|zstd-best|xz}.
func Measurements(a *Artifact) []result.Measurement {
	var ms []result.Measurement
	if !a.Cached {
		m := result.NewMeasurement("build.duration", "seconds", map[string]string{"arch": a.Arch}, []float64{a.BuildSeconds})
		m.Description = "go build of k3lite from distro/ (warm Go build cache if present)"
		ms = append(ms, m)
	}
	for _, s := range []struct {
		method string
		size   int64
	}{{"none", a.SizeRaw}, {a.ZstdMethod, a.SizeZstd}, {a.XzMethod, a.SizeXz}} {
		m := result.NewMeasurement("binary.size", "bytes",
			map[string]string{"arch": a.Arch, "compression": s.method}, []float64{float64(s.size)})
		m.Description = "size of the stripped k3lite binary"
		ms = append(ms, m)
	}
	return ms
}
