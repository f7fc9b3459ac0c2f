// Package addons holds the manifests a k3lite server applies to its own
// cluster once the apiserver is ready, like the files K3s keeps in its
// server/manifests directory: the RBAC every agent needs (always) and the
// optional add-ons (CoreDNS today) that `--disable NAME` skips.
//
// Manifests are embedded YAML rendered with text/template from Options
// (every value is validated before rendering, so no value can inject YAML)
// and applied with server-side apply under the field manager "k3lite":
// applying them again on every start is a no-op when nothing changed, and
// puts back what a user changed in the fields k3lite owns.
package addons

import (
	"bufio"
	"bytes"
	"embed"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strings"
	"text/template"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/validation"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"

	"github.com/distrobench/distrobench/distro/pkg/bootstrap"
)

// Names of the add-ons --disable accepts.
const (
	CoreDNS = "coredns"
)

// rbacManifest is always applied.
const rbacManifest = "rbac"

// Label put on every object k3lite applies, naming the manifest it came
// from; a disabled add-on's objects are found (and removed) by it.
const LabelAddon = "k3lite.io/addon"

// FieldManager is the server-side apply field manager of every object.
const FieldManager = "k3lite"

//go:embed manifests/*.yaml
var manifestFS embed.FS

// Names returns the add-ons that can be disabled, sorted.
func Names() []string { return []string{CoreDNS} }

// ParseDisable turns --disable values (repeatable, each a comma-separated
// list, K3s-style) into a sorted, deduplicated list of add-on names. An
// unknown name is an error that lists the valid ones.
func ParseDisable(values []string) ([]string, error) {
	var out, unknown []string
	for _, v := range values {
		for _, name := range strings.Split(v, ",") {
			name = strings.ToLower(strings.TrimSpace(name))
			switch {
			case name == "":
			case !slices.Contains(Names(), name):
				unknown = append(unknown, name)
			case !slices.Contains(out, name):
				out = append(out, name)
			}
		}
	}
	if len(unknown) > 0 {
		return nil, fmt.Errorf("--disable: unknown add-on %s: valid add-ons are %s", quoteAll(unknown), strings.Join(Names(), ", "))
	}
	slices.Sort(out)
	return out, nil
}

func quoteAll(s []string) string {
	q := make([]string, len(s))
	for i, v := range s {
		q[i] = fmt.Sprintf("%q", v)
	}
	return strings.Join(q, ", ")
}

// Options are the values the manifests are rendered with.
type Options struct {
	// ClusterDNS is the kube-dns Service's ClusterIP (10.43.0.10 by default).
	ClusterDNS string
	// ClusterDomain is the cluster's DNS domain (cluster.local).
	ClusterDomain string
	// Disabled lists add-ons not to apply (see ParseDisable).
	Disabled []string
}

// Validate reports every problem of o at once.
func (o Options) Validate() error {
	var errs []error
	if net.ParseIP(o.ClusterDNS) == nil {
		errs = append(errs, fmt.Errorf("--cluster-dns %q: not an IP address", o.ClusterDNS))
	}
	if msgs := validation.IsDNS1123Subdomain(o.ClusterDomain); len(msgs) > 0 {
		errs = append(errs, fmt.Errorf("--cluster-domain %q: %s", o.ClusterDomain, strings.Join(msgs, "; ")))
	}
	if _, err := ParseDisable(o.Disabled); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// Manifest is one rendered manifest file.
type Manifest struct {
	// Name is the add-on name (or "rbac" for the always-applied RBAC).
	Name string
	// Enabled is false for an add-on the user disabled.
	Enabled bool
	// Objects are in file order, each labelled LabelAddon=Name.
	Objects []*unstructured.Unstructured
}

type templateValues struct {
	ClusterDNS          string
	ClusterDomain       string
	Image               string
	AgentControllerUser string
}

// Render renders every manifest: the RBAC first, then each add-on in
// Names() order (disabled ones with Enabled false, so that Apply can remove
// what an earlier start applied).
func Render(o Options) ([]Manifest, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	disabled, _ := ParseDisable(o.Disabled)
	vals := templateValues{
		ClusterDNS:          net.ParseIP(o.ClusterDNS).String(),
		ClusterDomain:       o.ClusterDomain,
		Image:               bootstrap.CoreDNSImage,
		AgentControllerUser: bootstrap.AgentControllerCN,
	}
	out := make([]Manifest, 0, 1+len(Names()))
	for _, name := range append([]string{rbacManifest}, Names()...) {
		objs, err := renderFile(name, vals)
		if err != nil {
			return nil, err
		}
		out = append(out, Manifest{Name: name, Enabled: !slices.Contains(disabled, name), Objects: objs})
	}
	return out, nil
}

func renderFile(name string, vals templateValues) ([]*unstructured.Unstructured, error) {
	file := "manifests/" + name + ".yaml"
	raw, err := manifestFS.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("add-on %s: %w", name, err)
	}
	tmpl, err := template.New(file).Option("missingkey=error").Parse(string(raw))
	if err != nil {
		return nil, fmt.Errorf("add-on %s: parse template: %w", name, err)
	}
	var buf bytes.Buffer
	if err := tmpl.Execute(&buf, vals); err != nil {
		return nil, fmt.Errorf("add-on %s: render: %w", name, err)
	}
	docs, err := SplitYAML(buf.Bytes())
	if err != nil {
		return nil, fmt.Errorf("add-on %s: %w", name, err)
	}
	var objs []*unstructured.Unstructured
	for i, doc := range docs {
		u := &unstructured.Unstructured{}
		js, err := yaml.YAMLToJSON(doc)
		if err != nil {
			return nil, fmt.Errorf("add-on %s: document %d: %w", name, i+1, err)
		}
		if err := u.UnmarshalJSON(js); err != nil {
			return nil, fmt.Errorf("add-on %s: document %d: %w", name, i+1, err)
		}
		labels := u.GetLabels()
		if labels == nil {
			labels = map[string]string{}
		}
		labels[LabelAddon] = name
		u.SetLabels(labels)
		objs = append(objs, u)
	}
	return objs, nil
}

// SplitYAML splits a multi-document YAML stream, dropping documents that
// hold only comments or whitespace.
func SplitYAML(data []byte) ([][]byte, error) {
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	var docs [][]byte
	for {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			return docs, nil
		}
		if err != nil {
			return nil, fmt.Errorf("split YAML: %w", err)
		}
		var v any
		if err := yaml.Unmarshal(doc, &v); err != nil {
			return nil, fmt.Errorf("YAML document %d: %w", len(docs)+1, err)
		}
		if v == nil {
			continue
		}
		docs = append(docs, doc)
	}
}
