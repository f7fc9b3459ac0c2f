package build

import "github.com/distrobench/distrobench/internal/result"

// Measurements returns what a build measured: "build.duration" (seconds, only
// for a build that ran, not a cache hit), "binary.size" (bytes) per
// compression, labelled {arch, compression: none|zstd-19|zstd-best|xz}, and
// for k3lite's helper bundle "bundle.size" (bytes; {arch, compression:
// none|<archive compression>}: the helpers' total and the embedded archive)
// and "bundle.file.size" (bytes; {arch, file, compression}: each helper raw
// and compressed on its own).
func Measurements(a *Artifact) []result.Measurement {
	var ms []result.Measurement
	if !a.Cached {
		m := result.NewMeasurement("build.duration", "seconds", map[string]string{"arch": a.Arch}, []float64{a.BuildSeconds})
		m.Description = "make -C distro build-<arch>: helpers, their archive and k3lite (warm caches if present)"
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
	if b := a.Bundle; b != nil {
		for _, s := range []struct {
			method string
			size   int64
			desc   string
		}{
			{"none", b.RawSize, "helper binaries packed into k3lite (runc, containerd-shim-runc-v2, CNI plugins), uncompressed total"},
			{b.Compression, b.CompressedSize, "the embedded helper archive (tar, compressed): what the helpers add to k3lite"},
		} {
			m := result.NewMeasurement("bundle.size", "bytes",
				map[string]string{"arch": a.Arch, "compression": s.method}, []float64{float64(s.size)})
			m.Description = s.desc
			ms = append(ms, m)
		}
		for _, f := range b.Files {
			for _, s := range []struct {
				method string
				size   int64
			}{{"none", f.Size}, {b.Compression, f.CompressedAlone}} {
				m := result.NewMeasurement("bundle.file.size", "bytes",
					map[string]string{"arch": a.Arch, "file": f.Name, "compression": s.method}, []float64{float64(s.size)})
				m.Description = "one helper binary in k3lite's bundle, raw and compressed on its own"
				ms = append(ms, m)
			}
		}
	}
	return ms
}
