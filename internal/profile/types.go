// Package profile holds distrobench's configuration API: distribution
// profiles (how to build and start a distribution) and matrices (profiles x
// datastores x archs composed by small overrides). Files are typed and
// versioned, decoded strictly, defaulted and validated with field paths.
package profile

// APIVersion of profile and matrix documents.
const APIVersion = "distrobench.io/v1alpha1"

// Kinds of documents.
const (
	KindProfile = "DistributionProfile"
	KindMatrix  = "Matrix"
)

// Profile is a distribution profile.
type Profile struct {
	APIVersion string   `json:"apiVersion"`
	Kind       string   `json:"kind"`
	Metadata   Metadata `json:"metadata"`
	Spec       Spec     `json:"spec"`

	// File is the path the profile was loaded from (not part of the file).
	File string `json:"-"`
}

// Metadata names a document.
type Metadata struct {
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
}

// Spec says how to obtain, start and measure a distribution.
type Spec struct {
	// Style is "k3s" or "rke2": which upstream distribution the profile
	// imitates. It labels comparisons; behaviour comes from the args.
	Style string `json:"style"`

	// Exactly one of Bundled and Binary is set (default: Bundled).
	Bundled *Bundled `json:"bundled,omitempty"`
	Binary  string   `json:"binary,omitempty"` // path to a k3s, rke2 or k3lite binary

	Server    Component     `json:"server"`
	Agent     Component     `json:"agent,omitempty"`
	Nodes     Nodes         `json:"nodes,omitempty"`
	Datastore DatastoreSpec `json:"datastore"`
	Arch      string        `json:"arch"` // amd64 | arm64 (default: the host's)

	// Paths are relative to the server's data dir unless absolute; the
	// deployer passes --write-kubeconfig itself, so Kubeconfig only needs
	// setting for a binary that ignores that flag.
	Kubeconfig string `json:"kubeconfig,omitempty"`
	TokenFile  string `json:"tokenFile,omitempty"` // default "server/token"

	Timeouts Timeouts `json:"timeouts"`
}

// Bundled builds k3lite from distro/.
type Bundled struct {
	Tags    []string          `json:"tags,omitempty"`    // go build -tags
	LDFlags []string          `json:"ldflags,omitempty"` // extra -ldflags words
	Env     map[string]string `json:"env,omitempty"`     // extra build env (GOAMD64, ...)
}

// Component is how to start the server or an agent.
type Component struct {
	Args []string          `json:"args,omitempty"`
	Env  map[string]string `json:"env,omitempty"`
}

// Nodes shapes a deployed cluster beyond its server. Whenever the cluster
// has a node (the server's own agent, unless --disable-agent is in the
// server args, or any agent), every node runs on a simulated host: its own
// network namespace on a private bridge, so the machine's network is never
// changed.
type Nodes struct {
	// Agents is how many agent nodes join the server (0..MaxAgents; default
	// 0: a single node, the server's own). Each runs `<binary> agent` with
	// spec.agent.args.
	Agents int `json:"agents,omitempty"`
}

// MaxAgents is how many agents fit on a run's /24 next to the server.
const MaxAgents = 252

// DatastoreSpec selects the datastore: Type is one of dstype.Names().
// Endpoint is for a server the user runs (without it the harness starts one
// for the run: mysql, postgres, etcd) or, for sqlite, where the server keeps
// its SQLite file (sqlite://PATH, as K3s takes it); dstype.CheckEndpoint
// says which endpoints a type takes.
type DatastoreSpec struct {
	Type     string `json:"type"`
	Endpoint string `json:"endpoint,omitempty"`
}

// Timeouts for the deployer, as Go durations ("90s").
type Timeouts struct {
	Ready string `json:"ready,omitempty"` // default "120s" (x10 under emulation)
	Stop  string `json:"stop,omitempty"`  // default "30s"
}

// Matrix composes base profiles with datastore and arch overrides.
type Matrix struct {
	APIVersion string     `json:"apiVersion"`
	Kind       string     `json:"kind"`
	Metadata   Metadata   `json:"metadata"`
	Spec       MatrixSpec `json:"spec"`

	File string `json:"-"`
}

// MatrixSpec lists the axes. Each cell is base profile + {datastore, arch};
// later axes win over the profile's values.
type MatrixSpec struct {
	Profiles   []string `json:"profiles"` // names in profiles/ or paths
	Datastores []string `json:"datastores,omitempty"`
	Archs      []string `json:"archs,omitempty"`
}

// Cell is one expanded matrix entry.
type Cell struct {
	Profile   *Profile
	Datastore string
	Arch      string
}
