package agent

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/containerd/containerd/v2/core/remotes/docker"
	"github.com/containerd/containerd/v2/core/remotes/docker/config"
	toml "github.com/pelletier/go-toml/v2"

	"github.com/distrobench/distrobench/distro/pkg/bootstrap"
)

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	f := filepath.Join(dir, name)
	if err := os.WriteFile(f, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}

func TestLoadRegistries(t *testing.T) {
	dir := t.TempDir()
	ca := writeFile(t, dir, "ca.crt", "pem")
	good := writeFile(t, dir, "good.yaml", `
mirrors:
  docker.io:
    endpoint: ["https://mirror.example.com:5000"]
  registry.k8s.io: {}
configs:
  mirror.example.com:5000:
    tls:
      ca_file: `+ca+`
      insecure_skip_verify: true
    auth:
      username: bob
      password: hunter2
`)
	r, err := LoadRegistries(good)
	if err != nil {
		t.Fatalf("LoadRegistries: %v", err)
	}
	if got := r.MirroredHosts(); strings.Join(got, ",") != "docker.io,registry.k8s.io" {
		t.Errorf("mirrored hosts %v", got)
	}
	if c := r.Configs["mirror.example.com:5000"]; c.TLS == nil || c.TLS.CAFile != ca || !c.TLS.InsecureSkipVerify || c.Auth.Password != "hunter2" {
		t.Errorf("configs = %+v", r.Configs)
	}
	if r, err := LoadRegistries(""); err != nil || len(r.Mirrors) != 0 {
		t.Errorf(`LoadRegistries("") = %+v, %v; want empty`, r, err)
	}

	cases := []struct{ name, yaml, want string }{
		{"unknown field", "mirrors:\n  docker.io:\n    endpoints: [x]\n", `unknown field "endpoints"`},
		{"unknown top-level field", "mirror:\n  docker.io: {}\n", `unknown field "mirror"`},
		{"rewrite", "mirrors:\n  docker.io:\n    rewrite:\n      '^a/(.*)': 'b/$1'\n", `mirrors."docker.io".rewrite`},
		{"bad endpoint scheme", "mirrors:\n  docker.io:\n    endpoint: [ftp://x]\n", `mirrors."docker.io".endpoint[0] "ftp://x": scheme "ftp"`},
		{"bad registry host", "mirrors:\n  https://docker.io: {}\n", `mirrors."https://docker.io": want a registry host`},
		{"missing ca file", "configs:\n  r.example.com:\n    tls:\n      ca_file: /nonexistent/ca.crt\n", `configs."r.example.com".tls.ca_file: stat /nonexistent/ca.crt`},
		{"cert without key", "configs:\n  r.example.com:\n    tls:\n      cert_file: " + ca + "\n", "cert_file and key_file go together"},
		{"password without user", "configs:\n  r.example.com:\n    auth:\n      password: s3cret-pw\n", "a password needs a username"},
		{"not yaml", "mirrors: [", "mirrors"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := writeFile(t, dir, "bad.yaml", tc.yaml)
			_, err := LoadRegistries(f)
			if err == nil {
				t.Fatalf("accepted:\n%s", tc.yaml)
			}
			if !strings.Contains(err.Error(), f) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q: want the file %s and %q", err, f, tc.want)
			}
			if strings.Contains(err.Error(), "s3cret-pw") {
				t.Errorf("error repeats the password: %v", err)
			}
		})
	}
	if _, err := LoadRegistries(filepath.Join(dir, "missing.yaml")); err == nil || !strings.Contains(err.Error(), "--private-registry") {
		t.Errorf("missing file: %v", err)
	}
}

// containerdHosts writes the hosts files into a directory and reads them
// back with containerd's own hosts.toml loader: the registry hosts
// containerd would try for host, in order, as scheme://host/path.
func containerdHosts(t *testing.T, files []hostsFile, host string) ([]string, []docker.RegistryHost) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "certs.d")
	if err := writeHostsDir(dir, files); err != nil {
		t.Fatal(err)
	}
	hosts, err := config.ConfigureHosts(context.Background(), config.HostOptions{HostDir: config.HostDirFromRoot(dir)})(host)
	if err != nil {
		t.Fatalf("containerd rejects the hosts files: %v\n%s", err, dumpHosts(files))
	}
	var out []string
	for _, h := range hosts {
		out = append(out, h.Scheme+"://"+h.Host+h.Path)
	}
	return out, hosts
}

func dumpHosts(files []hostsFile) string {
	var b strings.Builder
	for _, f := range files {
		b.WriteString("--- " + f.dir + "/hosts.toml\n" + string(f.data))
	}
	return b.String()
}

// testCA writes a self-signed CA certificate (containerd loads it).
func testCA(t *testing.T, dir string) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test-ca"}, IsCA: true,
		BasicConstraintsValid: true, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return writeFile(t, dir, "ca.crt", string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})))
}

func TestRegistryHostsFilesOrder(t *testing.T) {
	dir := t.TempDir()
	ca := testCA(t, dir)
	r := &Registries{
		Mirrors: map[string]RegistryMirror{
			"registry.k8s.io": {},
			"docker.io":       {Endpoints: []string{"mirror.example.com:5000", "https://registry-1.docker.io"}},
			"localhost:5000":  {},
		},
		Configs: map[string]RegistryConfig{
			"mirror.example.com:5000": {TLS: &RegistryTLS{CAFile: ca, InsecureSkipVerify: true}},
			"ghcr.io":                 {TLS: &RegistryTLS{InsecureSkipVerify: true}},
		},
	}
	const mirror = "127.0.0.1:41234"
	files, err := registryHostsFiles(r, mirror, false, "/etc/k3lite/registries.yaml")
	if err != nil {
		t.Fatal(err)
	}
	got, hosts := containerdHosts(t, files, "registry.k8s.io")
	if want := "http://127.0.0.1:41234/v2 https://registry.k8s.io/v2"; strings.Join(got, " ") != want {
		t.Errorf("registry.k8s.io hosts %q, want %q\n%s", got, want, dumpHosts(files))
	}
	if hosts[0].Capabilities != docker.HostCapabilityPull|docker.HostCapabilityResolve {
		t.Errorf("the embedded mirror may %v, want pull and resolve only", hosts[0].Capabilities)
	}
	got, _ = containerdHosts(t, files, "docker.io")
	// The upstream listed among the endpoints is not tried twice.
	if want := "http://127.0.0.1:41234/v2 https://mirror.example.com:5000/v2 https://registry-1.docker.io/v2"; strings.Join(got, " ") != want {
		t.Errorf("docker.io hosts %q, want %q\n%s", got, want, dumpHosts(files))
	}
	// A localhost registry gets no embedded mirror: containerd's default.
	got, _ = containerdHosts(t, files, "localhost:5000")
	if len(got) != 1 || !strings.Contains(got[0], "localhost:5000") {
		t.Errorf("localhost:5000 hosts %q, want itself only", got)
	}
	for _, f := range files {
		if f.dir == "docker.io" && !strings.Contains(string(f.data), "ca = \""+ca+"\"") {
			t.Errorf("docker.io hosts.toml lacks the mirror's CA:\n%s", f.data)
		}
		if f.dir == "ghcr.io" && !strings.Contains(string(f.data), "skip_verify = true") {
			t.Errorf("ghcr.io hosts.toml lacks skip_verify:\n%s", f.data)
		}
		if strings.Contains(f.dir, "localhost") {
			t.Errorf("a hosts file for %s: want none", f.dir)
		}
	}
}

// With --disable-default-registry-endpoint the registry itself is never
// contacted: its last mirror is containerd's server.
func TestRegistryHostsFilesNoDefault(t *testing.T) {
	r := &Registries{Mirrors: map[string]RegistryMirror{
		"registry.k8s.io": {},
		"docker.io":       {Endpoints: []string{"https://mirror.example.com"}},
		"*":               {},
	}}
	files, err := registryHostsFiles(r, "127.0.0.1:41234", true, "test")
	if err != nil {
		t.Fatal(err)
	}
	for host, want := range map[string]string{
		"registry.k8s.io": "http://127.0.0.1:41234/v2",
		"docker.io":       "http://127.0.0.1:41234/v2 https://mirror.example.com/v2",
		"quay.io":         "http://127.0.0.1:41234/v2", // through "*" (_default)
	} {
		got, _ := containerdHosts(t, files, host)
		if strings.Join(got, " ") != want {
			t.Errorf("%s hosts %q, want %q\n%s", host, got, want, dumpHosts(files))
		}
	}
	// Without the embedded registry and without endpoints, a mirror entry
	// changes nothing (K3s's rule).
	files, err = registryHostsFiles(&Registries{Mirrors: map[string]RegistryMirror{"registry.k8s.io": {}}}, "", true, "test")
	if err != nil || len(files) != 0 {
		t.Errorf("mirror without endpoints: %d files, %v; want none", len(files), err)
	}
}

func TestRegistryHostsFilesWildcardKeepsDefault(t *testing.T) {
	files, err := registryHostsFiles(&Registries{Mirrors: map[string]RegistryMirror{"*": {}}}, "127.0.0.1:5001", false, "test")
	if err != nil {
		t.Fatal(err)
	}
	got, _ := containerdHosts(t, files, "quay.io")
	if want := "http://127.0.0.1:5001/v2 https://quay.io/v2"; strings.Join(got, " ") != want {
		t.Errorf("quay.io hosts %q, want %q\n%s", got, want, dumpHosts(files))
	}
}

func TestWriteHostsDirRemovesOldFiles(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "certs.d")
	if err := writeHostsDir(dir, []hostsFile{{dir: "old.example.com", data: []byte("server = \"https://old.example.com\"\n")}}); err != nil {
		t.Fatal(err)
	}
	if err := writeHostsDir(dir, []hostsFile{{dir: "new.example.com", data: []byte("server = \"https://new.example.com\"\n")}}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "old.example.com")); !os.IsNotExist(err) {
		t.Errorf("a registry dropped from registries.yaml keeps its hosts file: %v", err)
	}
}

func TestTOMLEscape(t *testing.T) {
	in := "a\"b\\c\nd"
	var v struct {
		S string `toml:"s"`
	}
	if err := toml.Unmarshal([]byte("s = "+tomlString(in)), &v); err != nil || v.S != in {
		t.Errorf("tomlString(%q) reads back as %q (%v)", in, v.S, err)
	}
}

func TestContainerdConfigRegistry(t *testing.T) {
	p := newPaths(t.TempDir())
	auths := criRegistryAuths(&Registries{Configs: map[string]RegistryConfig{
		"r.example.com": {Auth: &RegistryAuth{Username: "bob", Password: "pw"}},
		"s.example.com": {TLS: &RegistryTLS{InsecureSkipVerify: true}},
	}})
	b, err := containerdConfig(p, "/bin", bootstrap.PauseImage, auths)
	if err != nil {
		t.Fatal(err)
	}
	var raw struct {
		Plugins map[string]struct {
			Registry struct {
				ConfigPath string `toml:"config_path"`
				Configs    map[string]struct {
					Auth map[string]string `toml:"auth"`
				} `toml:"configs"`
			} `toml:"registry"`
		} `toml:"plugins"`
	}
	if err := toml.Unmarshal(b, &raw); err != nil {
		t.Fatal(err)
	}
	reg := raw.Plugins["io.containerd.cri.v1.images"].Registry
	if reg.ConfigPath != p.registryHosts {
		t.Errorf("config_path %q, want %q", reg.ConfigPath, p.registryHosts)
	}
	if len(reg.Configs) != 1 || reg.Configs["r.example.com"].Auth["username"] != "bob" || reg.Configs["r.example.com"].Auth["password"] != "pw" {
		t.Errorf("registry configs %+v, want r.example.com's credentials only", reg.Configs)
	}
}

func TestConfigureRegistriesWithEmbeddedMirror(t *testing.T) {
	p := newPaths(t.TempDir())
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	regs := &Registries{Mirrors: map[string]RegistryMirror{"registry.k8s.io": {}, "docker.io": {}}}
	cfg := Config{PrivateRegistry: "/run/registries.yaml", DisableDefaultRegistryEndpoint: true}
	if err := configureRegistries(p, regs, cfg, l, slog.New(slog.DiscardHandler)); err != nil {
		t.Fatal(err)
	}
	for _, host := range []string{"registry.k8s.io", "docker.io"} {
		b, err := os.ReadFile(filepath.Join(p.registryHosts, host, "hosts.toml"))
		if err != nil {
			t.Fatal(err)
		}
		if want := `server = "http://` + l.Addr().String() + `"`; !strings.Contains(string(b), want) {
			t.Errorf("%s hosts.toml lacks %s:\n%s", host, want, b)
		}
	}
}
