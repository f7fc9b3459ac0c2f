package cli

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/distrobench/distrobench/internal/datastore"
	"github.com/distrobench/distrobench/internal/datastore/dstype"
	"github.com/distrobench/distrobench/internal/profile"
)

// profileFlags select a profile and override its datastore, arch and binary.
// Flags override the file only when set (fs.Changed).
type profileFlags struct {
	profile   string
	datastore string
	endpoint  string
	arch      string
	binary    string
	agents    int
	serverArg []string
}

func (f *profileFlags) bind(fs *pflag.FlagSet, withBinary bool) {
	fs.StringVarP(&f.profile, "profile", "p", "k3s", "profile name in profiles/ (k3s, rke2, ...) or a path to a profile YAML")
	fs.StringVar(&f.datastore, "datastore", "", fmt.Sprintf("datastore: %s (default %s); %s start a local server for the run unless --datastore-endpoint is given",
		strings.Join(dstype.Names(), ", "), dstype.Default, strings.Join(serverTypes(), "/")))
	fs.StringVar(&f.endpoint, "datastore-endpoint", "", "use your own datastore server instead of starting one, or for sqlite the file: "+dstype.SchemeList())
	fs.StringVar(&f.arch, "arch", "", "architecture to build and run: amd64 or arm64 (arm64 runs under qemu-user on an amd64 host)")
	if withBinary {
		fs.StringVar(&f.binary, "binary", "", "run this k3s/rke2/k3lite binary instead of building k3lite (overrides the profile)")
		fs.IntVar(&f.agents, "agents", 0, "agent nodes to join to the server (overrides spec.nodes.agents); every node runs on a simulated host (network namespace)")
		fs.StringArrayVar(&f.serverArg, "server-arg", nil, "extra server flag appended to the profile's spec.server.args (repeatable), e.g. --server-arg=--disable-agent")
	}
}

// serverTypes are the datastores that run outside the server (the harness
// starts one for the run).
func serverTypes() []string {
	var out []string
	for _, t := range dstype.Names() {
		if !dstype.InServer(t) {
			out = append(out, t)
		}
	}
	return out
}

// load resolves the profile and applies the flags that were set.
func (f *profileFlags) load(g *globals, cmd *cobra.Command) (*profile.Profile, error) {
	p, err := profile.Resolve(f.profile, g.profilesDir())
	if err != nil {
		return nil, err
	}
	fs := cmd.Flags()
	ds, ep, arch := "", "", ""
	if fs.Changed("datastore") {
		ds = f.datastore // checked with the rest by p.Validate below
	}
	if fs.Changed("datastore-endpoint") {
		ep = f.endpoint
		if ds == "" {
			ds = p.Spec.Datastore.Type
		}
	}
	if fs.Changed("arch") {
		arch = f.arch
	}
	p = p.WithOverrides(ds, ep, arch)
	if fs.Lookup("binary") != nil && fs.Changed("binary") {
		p.Spec.Binary = f.binary
		p.Spec.Bundled = nil
	}
	if fs.Lookup("agents") != nil && fs.Changed("agents") {
		p.Spec.Nodes.Agents = f.agents
	}
	if len(f.serverArg) > 0 {
		p.Spec.Server.Args = append(slices.Clone(p.Spec.Server.Args), f.serverArg...)
	}
	p.SetDefaults()
	if err := p.Validate(); err != nil {
		return nil, err
	}
	return p, nil
}

// checkEndpoint fails fast when the profile names a user's datastore
// endpoint that does not answer, before anything is built or started
// (k3lite and the node images can take minutes on a cold cache). It is the
// one dial of the endpoint from this machine: deploy dials it again only
// from a simulated host, to check the route from there.
func checkEndpoint(ctx context.Context, p *profile.Profile) error {
	if p.Spec.Datastore.Endpoint == "" {
		return nil
	}
	return datastore.CheckReachable(ctx, p.Spec.Datastore.Endpoint, nil)
}
