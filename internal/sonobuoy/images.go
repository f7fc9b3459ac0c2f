package sonobuoy

import (
	"fmt"

	sonoconfig "github.com/vmware-tanzu/sonobuoy/pkg/config"
	sonoimage "github.com/vmware-tanzu/sonobuoy/pkg/image"
	"k8s.io/apimachinery/pkg/version"
)

// DefaultSonobuoyImage is the aggregator and worker image sonobuoy v0.57.3
// runs: "sonobuoy/sonobuoy:v0.57.3" (Docker Hub).
func DefaultSonobuoyImage() string { return sonoconfig.DefaultImage }

// ConformanceImageFor returns the e2e plugin image sonobuoy picks for a
// cluster whose API server reports gitVersion (`kubectl version`'s server
// version, e.g. "v1.37.2+k3s1"): registry.k8s.io/conformance tagged with the
// version without build metadata ("v1.37.2"). sonobuoy's own resolver does
// the work, so the answer is sonobuoy's by construction.
func ConformanceImageFor(gitVersion string) (string, error) {
	auto := sonoimage.ConformanceImageVersion(sonoimage.ConformanceImageVersionAuto)
	registry, tag, err := auto.Get(fixedVersion(gitVersion), "")
	if err != nil {
		return "", fmt.Errorf("choosing the conformance image for Kubernetes %q: %w (set ConformanceImage to choose one)", gitVersion, err)
	}
	return registry + ":" + tag, nil
}

// fixedVersion answers sonobuoy's server-version query with a known value.
type fixedVersion string

func (v fixedVersion) ServerVersion() (*version.Info, error) {
	return &version.Info{GitVersion: string(v)}, nil
}
