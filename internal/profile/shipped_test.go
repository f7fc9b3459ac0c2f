package profile

import (
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/distrobench/distrobench/internal/datastore/dstype"
)

// repoRoot walks up from the package directory to the directory holding
// the root go.mod.
func repoRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test directory")
		}
		dir = parent
	}
}

func TestShippedProfilesValidate(t *testing.T) {
	profilesDir := filepath.Join(repoRoot(t), "profiles")
	files, err := filepath.Glob(filepath.Join(profilesDir, "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	names, err := List(profilesDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"k3s", "rke2"} {
		if !slices.Contains(names, want) {
			t.Errorf("profiles/ lacks %s.yaml (has %v)", want, names)
		}
	}
	if len(files) != len(names) {
		t.Errorf("List found %d profiles, glob %d", len(names), len(files))
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			p, err := Load(f)
			if err != nil {
				t.Fatal(err)
			}
			p.SetDefaults()
			if err := p.Validate(); err != nil {
				t.Fatal(err)
			}
			if want := strings.TrimSuffix(filepath.Base(f), ".yaml"); p.Metadata.Name != want {
				t.Errorf("metadata.name %q, file named %q", p.Metadata.Name, want)
			}
			// Every ${PROFILE_DIR} reference expands to a file that exists
			// and parses as YAML.
			for _, a := range p.ExpandArgs(p.Spec.Server.Args, "/data", "/run") {
				if strings.Contains(a, "${") {
					t.Errorf("unexpanded placeholder in %q", a)
				}
			}
		})
	}

	matrices, err := filepath.Glob(filepath.Join(profilesDir, "matrix", "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(matrices) < 2 {
		t.Errorf("expected the datastores and k3s-vs-rke2 matrices, found %v", matrices)
	}
	for _, f := range matrices {
		t.Run("matrix/"+filepath.Base(f), func(t *testing.T) {
			m, err := LoadMatrix(f)
			if err != nil {
				t.Fatal(err)
			}
			m.SetDefaults()
			if err := m.Validate(); err != nil {
				t.Fatal(err)
			}
			cells, err := m.Expand(profilesDir)
			if err != nil {
				t.Fatal(err)
			}
			if len(cells) == 0 {
				t.Fatal("no cells")
			}
		})
	}
}

func TestShippedMatrices(t *testing.T) {
	profilesDir := filepath.Join(repoRoot(t), "profiles")
	for file, want := range map[string][]string{
		"datastores.yaml":  {"k3s-sqlite-amd64", "k3s-embedded-etcd-amd64", "k3s-etcd-amd64", "k3s-mysql-amd64", "k3s-postgres-amd64"},
		"k3s-vs-rke2.yaml": {"k3s-sqlite-amd64", "rke2-sqlite-amd64"},
	} {
		m, err := LoadMatrix(filepath.Join(profilesDir, "matrix", file))
		if err != nil {
			t.Fatal(err)
		}
		m.SetDefaults()
		cells, err := m.Expand(profilesDir)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, c := range cells {
			got = append(got, c.Name())
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: cells %v, want %v", file, got, want)
		}
	}
}

func TestShippedProfileContents(t *testing.T) {
	profilesDir := filepath.Join(repoRoot(t), "profiles")

	k3s, err := Resolve("k3s", profilesDir)
	if err != nil {
		t.Fatal(err)
	}
	k3s.SetDefaults()
	if k3s.Spec.Style != "k3s" || k3s.Spec.Datastore.Type != dstype.SQLite || k3s.Spec.Bundled == nil ||
		slices.Contains(k3s.Spec.Server.Args, "--disable-agent") || k3s.Spec.Nodes.Agents != 1 {
		t.Errorf("k3s profile: %+v", k3s.Spec)
	}

	rke2, err := Resolve("rke2", profilesDir)
	if err != nil {
		t.Fatal(err)
	}
	rke2.SetDefaults()
	if rke2.Spec.Style != "rke2" || rke2.Spec.Datastore.Type != dstype.EmbeddedEtcd || rke2.Spec.Bundled == nil ||
		slices.Contains(rke2.Spec.Server.Args, "--disable-agent") || rke2.Spec.Nodes.Agents != 1 {
		t.Errorf("rke2 profile: %+v", rke2.Spec)
	}
	args := rke2.ExpandArgs(rke2.Spec.Server.Args, "/var/lib/k3lite", "/run/x")
	for _, want := range []string{
		"--secrets-encryption",
		"--kube-apiserver-arg=anonymous-auth=false",
		"--kube-apiserver-arg=profiling=false",
		"--kube-controller-manager-arg=profiling=false",
		"--kube-scheduler-arg=profiling=false",
		"--kube-apiserver-arg=audit-log-path=/var/lib/k3lite/server/logs/audit.log",
		"--kube-apiserver-arg=audit-policy-file=" + filepath.Join(profilesDir, "files", "rke2-audit-policy.yaml"),
		"--kube-apiserver-arg=admission-control-config-file=" + filepath.Join(profilesDir, "files", "rke2-pss-restricted.yaml"),
	} {
		if !slices.Contains(args, want) {
			t.Errorf("rke2 args lack %q:\n%s", want, strings.Join(args, "\n"))
		}
	}

	// The referenced API server config files have the shape the API server
	// expects. (Their full decoding by the API server's own loaders was
	// checked once out of tree; importing those loaders here would pull
	// k8s.io/apiserver into the harness's unit tests.)
	var policy struct {
		APIVersion string           `json:"apiVersion"`
		Kind       string           `json:"kind"`
		Rules      []map[string]any `json:"rules"`
	}
	readYAML(t, filepath.Join(profilesDir, "files", "rke2-audit-policy.yaml"), &policy)
	if policy.APIVersion != "audit.k8s.io/v1" || policy.Kind != "Policy" || len(policy.Rules) == 0 {
		t.Errorf("audit policy: %+v", policy)
	}

	var admission struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
		Plugins    []struct {
			Name          string `json:"name"`
			Configuration struct {
				APIVersion string            `json:"apiVersion"`
				Kind       string            `json:"kind"`
				Defaults   map[string]string `json:"defaults"`
				Exemptions struct {
					Namespaces []string `json:"namespaces"`
				} `json:"exemptions"`
			} `json:"configuration"`
		} `json:"plugins"`
	}
	readYAML(t, filepath.Join(profilesDir, "files", "rke2-pss-restricted.yaml"), &admission)
	if admission.APIVersion != "apiserver.config.k8s.io/v1" || admission.Kind != "AdmissionConfiguration" ||
		len(admission.Plugins) != 1 || admission.Plugins[0].Name != "PodSecurity" {
		t.Fatalf("admission config: %+v", admission)
	}
	c := admission.Plugins[0].Configuration
	if c.APIVersion != "pod-security.admission.config.k8s.io/v1" || c.Kind != "PodSecurityConfiguration" ||
		c.Defaults["enforce"] != "restricted" || !reflect.DeepEqual(c.Exemptions.Namespaces, []string{"kube-system"}) {
		t.Errorf("PodSecurity configuration: %+v", c)
	}
}

func readYAML(t *testing.T, path string, out any) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.UnmarshalStrict(data, out); err != nil {
		// UnmarshalStrict also rejects fields the struct above lacks;
		// decode leniently for those and only check the named ones.
		if err := yaml.Unmarshal(data, out); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
	}
	if !strings.HasPrefix(string(data), "#") {
		t.Errorf("%s lacks its header comment", path)
	}
}
