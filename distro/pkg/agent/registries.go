package agent

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"sigs.k8s.io/yaml"
)

// DefaultPrivateRegistry is read when present and --private-registry is not
// given (K3s: /etc/rancher/k3s/registries.yaml).
const DefaultPrivateRegistry = "/etc/k3lite/registries.yaml"

// Registries is K3s's registries.yaml (--private-registry): mirrors per
// registry host and per-host TLS and credentials. Unknown fields are
// errors.
type Registries struct {
	// Mirrors maps a registry host (docker.io, registry.k8s.io,
	// host:port, or "*" for every registry) to its mirror endpoints.
	Mirrors map[string]RegistryMirror `json:"mirrors,omitempty"`
	// Configs maps an endpoint host (host or host:port) to its TLS and
	// credentials.
	Configs map[string]RegistryConfig `json:"configs,omitempty"`
}

// RegistryMirror lists the endpoints tried, in order, before the registry
// itself.
type RegistryMirror struct {
	Endpoints []string `json:"endpoint,omitempty"`
	// Rewrites (K3s's repository rewrites) need K3s's patched containerd;
	// k3lite rejects them rather than pull something else than asked.
	Rewrites map[string]string `json:"rewrite,omitempty"`
}

// RegistryConfig is the TLS and credentials of one endpoint host.
type RegistryConfig struct {
	Auth *RegistryAuth `json:"auth,omitempty"`
	TLS  *RegistryTLS  `json:"tls,omitempty"`
}

// RegistryAuth holds credentials: secrets, never logged.
type RegistryAuth struct {
	Username      string `json:"username,omitempty"`
	Password      string `json:"password,omitempty"`
	Auth          string `json:"auth,omitempty"`
	IdentityToken string `json:"identity_token,omitempty"`
}

// RegistryTLS is the TLS client configuration of one endpoint host.
type RegistryTLS struct {
	CAFile             string `json:"ca_file,omitempty"`
	CertFile           string `json:"cert_file,omitempty"`
	KeyFile            string `json:"key_file,omitempty"`
	InsecureSkipVerify bool   `json:"insecure_skip_verify,omitempty"`
}

// LoadRegistries reads and validates a registries.yaml; "" gives an empty
// configuration. Every error names the file.
func LoadRegistries(file string) (*Registries, error) {
	r := &Registries{}
	if file == "" {
		return r, nil
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("--private-registry: %w", err)
	}
	if err := yaml.UnmarshalStrict(data, r); err != nil {
		return nil, fmt.Errorf("--private-registry %s: %w (the file has K3s's registries.yaml shape: mirrors.<registry>.endpoint, configs.<host>.tls.{ca_file,cert_file,key_file,insecure_skip_verify}, configs.<host>.auth.{username,password,auth,identity_token})", file, cleanYAMLError(err))
	}
	if err := r.validate(); err != nil {
		return nil, fmt.Errorf("--private-registry %s: %w", file, err)
	}
	return r, nil
}

// cleanYAMLError drops the JSON-decoder prefixes sigs.k8s.io/yaml adds.
func cleanYAMLError(err error) error {
	msg := err.Error()
	for _, p := range []string{"error unmarshaling JSON: ", "while decoding JSON: ", "json: "} {
		msg = strings.ReplaceAll(msg, p, "")
	}
	return errors.New(msg)
}

func (r *Registries) validate() error {
	var errs []error
	for _, host := range sortedKeys(r.Mirrors) {
		m := r.Mirrors[host]
		if host != "*" && !validRegistryHost(host) {
			errs = append(errs, fmt.Errorf("mirrors.%q: want a registry host such as docker.io or registry.example.com:5000, or * for every registry", host))
		}
		for i, ep := range m.Endpoints {
			if _, _, err := normalizeEndpoint(ep); err != nil {
				errs = append(errs, fmt.Errorf("mirrors.%q.endpoint[%d] %q: %w", host, i, ep, err))
			}
		}
		if len(m.Rewrites) > 0 {
			errs = append(errs, fmt.Errorf("mirrors.%q.rewrite: repository rewrites are not supported by k3lite (upstream containerd has none; K3s patches its containerd for them): remove them", host))
		}
	}
	for _, host := range sortedKeys(r.Configs) {
		c := r.Configs[host]
		if host != "*" && !validRegistryHost(host) {
			errs = append(errs, fmt.Errorf("configs.%q: want an endpoint host such as registry.example.com or 10.0.0.5:5000", host))
		}
		if t := c.TLS; t != nil {
			if (t.CertFile == "") != (t.KeyFile == "") {
				errs = append(errs, fmt.Errorf("configs.%q.tls: cert_file and key_file go together", host))
			}
			for field, f := range map[string]string{"ca_file": t.CAFile, "cert_file": t.CertFile, "key_file": t.KeyFile} {
				if f == "" {
					continue
				}
				if _, err := os.Stat(f); err != nil {
					errs = append(errs, fmt.Errorf("configs.%q.tls.%s: %w", host, field, err))
				}
			}
		}
		if a := c.Auth; a != nil && a.Password != "" && a.Username == "" {
			// Never repeat the secret.
			errs = append(errs, fmt.Errorf("configs.%q.auth: a password needs a username", host))
		}
	}
	return errors.Join(errs...)
}

func validRegistryHost(h string) bool {
	if h == "" || strings.ContainsAny(h, "/ \t\"\\") || strings.Contains(h, "://") {
		return false
	}
	u, err := url.Parse("//" + h)
	return err == nil && u.Host == h
}

// MirroredHosts are the registries that have a mirror entry, sorted.
func (r *Registries) MirroredHosts() []string { return sortedKeys(r.Mirrors) }

// normalizeEndpoint turns an endpoint as written in registries.yaml into
// the URL containerd is given (containerd's and K3s's rules): no scheme
// means https, except localhost on a port other than 443, which is http;
// docker.io is registry-1.docker.io; an empty, "/" or "/v2" path is the
// API root /v2, any other path is used as given (override_path).
func normalizeEndpoint(ep string) (*url.URL, bool, error) {
	s := ep
	if !strings.Contains(s, "://") {
		s = "//" + s
	}
	u, err := url.Parse(s)
	if err != nil {
		return nil, false, err
	}
	if u.Host == "" {
		return nil, false, errors.New("no host")
	}
	switch u.Scheme {
	case "http", "https":
	case "":
		u.Scheme = "https"
		if port := u.Port(); isLocalhost(u.Hostname()) && port != "" && port != "443" {
			u.Scheme = "http"
		}
	default:
		return nil, false, fmt.Errorf("scheme %q: want http or https", u.Scheme)
	}
	if u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return nil, false, errors.New("want scheme://host[:port][/path] without user, query or fragment")
	}
	if u.Host == "docker.io" {
		u.Host = "registry-1.docker.io"
	}
	switch u.Path {
	case "", "/", "/v2", "/v2/":
		u.Path = "/v2"
		return u, false, nil
	}
	return u, true, nil
}

func isLocalhost(h string) bool {
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

// hostsFile is one <config_path>/<dir>/hosts.toml.
type hostsFile struct {
	dir  string // registry host, or _default for "*"
	data []byte
}

// hostEndpoint is one endpoint in a hosts.toml.
type hostEndpoint struct {
	url          *url.URL
	overridePath bool
	tls          *RegistryTLS
	mirror       bool // pull+resolve only
}

// registryHostsFiles renders containerd's hosts directory (K3s's rules):
// for every mirrored registry, the embedded mirror at mirrorAddr first
// (when not empty; localhost registries excepted), then the listed
// endpoints, then the registry itself, unless noDefault drops it (the last
// endpoint then becomes containerd's "server", so containerd adds no
// default host of its own). A registry with only TLS settings under
// configs gets a file with those settings for itself.
func registryHostsFiles(r *Registries, mirrorAddr string, noDefault bool, source string) ([]hostsFile, error) {
	var out []hostsFile
	done := map[string]bool{}
	for _, host := range sortedKeys(r.Mirrors) {
		var eps []hostEndpoint
		if mirrorAddr != "" && (host == "*" || !isLocalhost(hostOnly(host))) {
			eps = append(eps, hostEndpoint{url: &url.URL{Scheme: "http", Host: mirrorAddr, Path: "/v2"}, mirror: true})
		}
		var def *url.URL
		if host != "*" {
			d, _, err := normalizeEndpoint(host)
			if err != nil {
				return nil, fmt.Errorf("mirrors.%q: %w", host, err)
			}
			def = d
		}
		for _, ep := range r.Mirrors[host].Endpoints {
			u, override, err := normalizeEndpoint(ep)
			if err != nil {
				return nil, fmt.Errorf("mirrors.%q.endpoint %q: %w", host, ep, err)
			}
			if def != nil && u.String() == def.String() {
				continue // the registry itself comes last anyway
			}
			eps = append(eps, hostEndpoint{url: u, overridePath: override, tls: r.tlsFor(u.Host), mirror: true})
		}
		if def != nil && !noDefault {
			eps = append(eps, hostEndpoint{url: def, tls: r.tlsFor(def.Host)})
		}
		if len(eps) == 0 || (def != nil && !noDefault && len(eps) == 1 && eps[0].tls == nil) {
			continue // containerd's defaults are the same
		}
		dir := host
		if host == "*" {
			dir = "_default"
		}
		done[host] = true
		out = append(out, hostsFile{dir: dir, data: renderHostsTOML(eps, host == "*" && !noDefault, source)})
	}
	for _, host := range sortedKeys(r.Configs) {
		c := r.Configs[host]
		if done[host] || host == "*" || c.TLS == nil {
			continue
		}
		u, _, err := normalizeEndpoint(host)
		if err != nil {
			return nil, fmt.Errorf("configs.%q: %w", host, err)
		}
		out = append(out, hostsFile{dir: host, data: renderHostsTOML([]hostEndpoint{{url: u, tls: c.TLS}}, false, source)})
	}
	return out, nil
}

func (r *Registries) tlsFor(host string) *RegistryTLS {
	if c, ok := r.Configs[host]; ok {
		return c.TLS
	}
	return nil
}

func hostOnly(hostport string) string {
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		return h
	}
	return hostport
}

// renderHostsTOML writes a hosts.toml: every endpoint but the last as a
// [host."URL"] table, in order (containerd tries them in file order), the
// last as the root "server" with its settings as root keys. With
// noServer, every endpoint is a [host] table and containerd adds the
// requested registry itself as the last one ("*" without
// --disable-default-registry-endpoint).
//
// Written by hand rather than with go-toml: the order of the [host] tables
// matters and a Go map would sort them.
func renderHostsTOML(eps []hostEndpoint, noServer bool, source string) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "# Generated by k3lite agent from %s at every start; edits are overwritten.\n", tomlEscape(source))
	tables := eps
	if !noServer {
		last := eps[len(eps)-1]
		tables = eps[:len(eps)-1]
		srv := *last.url
		if !last.overridePath {
			srv.Path = "" // containerd appends /v2
		}
		fmt.Fprintf(&b, "server = %s\n", tomlString(srv.String()))
		writeEndpointKeys(&b, last, "")
	}
	for _, ep := range tables {
		fmt.Fprintf(&b, "\n[host.%s]\n", tomlString(ep.url.String()))
		writeEndpointKeys(&b, ep, "  ")
	}
	return []byte(b.String())
}

func writeEndpointKeys(b *strings.Builder, ep hostEndpoint, indent string) {
	if ep.mirror {
		fmt.Fprintf(b, "%scapabilities = [\"pull\", \"resolve\"]\n", indent)
	}
	if ep.overridePath {
		fmt.Fprintf(b, "%soverride_path = true\n", indent)
	}
	if t := ep.tls; t != nil {
		if t.CAFile != "" {
			fmt.Fprintf(b, "%sca = %s\n", indent, tomlString(t.CAFile))
		}
		if t.CertFile != "" {
			fmt.Fprintf(b, "%sclient = [[%s, %s]]\n", indent, tomlString(t.CertFile), tomlString(t.KeyFile))
		}
		if t.InsecureSkipVerify {
			fmt.Fprintf(b, "%sskip_verify = true\n", indent)
		}
	}
}

// tomlString is a TOML basic string.
func tomlString(s string) string { return `"` + tomlEscape(s) + `"` }

func tomlEscape(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\u%04X`, r)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// writeHostsDir replaces dir with the given hosts files (K3s rewrites it at
// every start too), so a registry removed from registries.yaml is gone.
func writeHostsDir(dir string, files []hostsFile) error {
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("clean containerd hosts directory: %w", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("containerd hosts directory: %w", err)
	}
	for _, f := range files {
		d := filepath.Join(dir, f.dir)
		if err := os.MkdirAll(d, 0o700); err != nil {
			return fmt.Errorf("containerd hosts directory: %w", err)
		}
		if err := os.WriteFile(filepath.Join(d, "hosts.toml"), f.data, 0o600); err != nil {
			return fmt.Errorf("containerd hosts file: %w", err)
		}
	}
	return nil
}

// criRegistryAuths are the credentials for containerd's CRI config
// (registry.configs.<host>.auth; hosts.toml has no place for them, K3s
// writes them there too). nil without credentials.
func criRegistryAuths(r *Registries) map[string]any {
	out := map[string]any{}
	for host, c := range r.Configs {
		a := c.Auth
		if a == nil || (*a == RegistryAuth{}) {
			continue
		}
		auth := map[string]any{}
		for k, v := range map[string]string{"username": a.Username, "password": a.Password, "auth": a.Auth, "identitytoken": a.IdentityToken} {
			if v != "" {
				auth[k] = v
			}
		}
		out[host] = map[string]any{"auth": auth}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
