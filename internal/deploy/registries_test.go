package deploy

import (
	"slices"
	"testing"

	"sigs.k8s.io/yaml"
)

// The run's registries.yaml has K3s's shape (strictly decoded, as k3lite
// does) and mirrors the registries of the conformance images with no
// endpoint of their own.
func TestRegistriesYAML(t *testing.T) {
	var r struct {
		Mirrors map[string]struct {
			Endpoint []string `json:"endpoint"`
		} `json:"mirrors"`
	}
	if err := yaml.UnmarshalStrict(registriesYAML(), &r); err != nil {
		t.Fatalf("registries.yaml: %v\n%s", err, registriesYAML())
	}
	var hosts []string
	for h, m := range r.Mirrors {
		hosts = append(hosts, h)
		if len(m.Endpoint) != 0 {
			t.Errorf("mirror %s has endpoints %q: want none (no traffic may leave the machine)", h, m.Endpoint)
		}
	}
	slices.Sort(hosts)
	if !slices.Equal(hosts, []string{"docker.io", "registry.k8s.io"}) {
		t.Errorf("mirrored %q, want docker.io and registry.k8s.io", hosts)
	}
}

func TestRegistryArgsOnlyWithNodes(t *testing.T) {
	c := &Cluster{}
	if got := c.registryArgs(); got != nil {
		t.Errorf("a cluster without nodes gets registry args %q", got)
	}
	c.RunDir = t.TempDir()
	if err := c.writeRegistries(); err != nil {
		t.Fatal(err)
	}
	want := []string{"--private-registry", c.RegistriesFile, "--disable-default-registry-endpoint"}
	if got := c.registryArgs(); !slices.Equal(got, want) {
		t.Errorf("registry args %q, want %q", got, want)
	}
}
