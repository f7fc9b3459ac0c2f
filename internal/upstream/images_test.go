package upstream

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/distrobench/distrobench/internal/images"
)

func TestCoverImages(t *testing.T) {
	listed := []string{
		"registry.k8s.io/pause:3.10.2",
		"registry.k8s.io/sig-storage/csi-attacher:v4.12.0",
		"registry.k8s.io/e2e-test-images/brand-new:1.0",
	}
	c := CoverImages(listed, []string{"registry.k8s.io/pause:3.10.2"})
	if !slices.Equal(c.Built, listed[:1]) || !slices.Equal(c.NotBuilt, listed[1:2]) || !slices.Equal(c.Unclassified, listed[2:]) {
		t.Errorf("CoverImages = %+v", c)
	}
}

// TestNotBuiltDisjointFromCatalog: an image is either built or explained,
// never both.
func TestNotBuiltDisjointFromCatalog(t *testing.T) {
	for _, s := range images.List() {
		if r, ok := NotBuilt[s.Name]; ok {
			t.Errorf("%s is built by the catalog but listed as not built (%q)", s.Name, r)
		}
	}
}

// TestSuiteImagesCovered checks the real e2e.test: every image it names is
// built by the catalog or explained in NotBuilt. A Kubernetes bump that adds
// an image fails here instead of leaving the nodes without it.
func TestSuiteImagesCovered(t *testing.T) {
	bin := builtE2ETest(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	listed, err := ListImages(ctx, bin)
	if err != nil {
		t.Fatal(err)
	}
	var catalog []string
	for _, s := range images.List() {
		catalog = append(catalog, s.Name)
	}
	c := CoverImages(listed, catalog)
	if len(c.Unclassified) > 0 {
		t.Errorf("e2e.test names images neither built nor explained: %v", c.Unclassified)
	}
	if len(c.Built) < 10 {
		t.Errorf("only %d of the suite's images are built: %v", len(c.Built), c.Built)
	}
}
