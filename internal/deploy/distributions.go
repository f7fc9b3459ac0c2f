package deploy

import (
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"
)

// distribution holds what differs between the K3s-style binaries the
// harness knows, found by the name the binary starts with: the binary
// decides, not the profile's style (k3lite runs k3s- and rke2-style
// profiles alike).
type distribution struct {
	prefix string
	// endpointEnv is the variable it reads --datastore-endpoint from.
	endpointEnv string
	// networkAgentUser is the user its built-in flannel authenticates as
	// ("": not known).
	networkAgentUser string
	// agentsWhyNot says why a proxy on its agents' --server cannot count
	// their traffic ("": it can).
	agentsWhyNot string
	// styles are the profile styles (spec.style) it runs, each with the
	// server flags that select it.
	styles map[string][]string
}

// The RKE2 style's supervisor port: agents join there (--server) and reach
// the API on the server's --https-listen-port, on the same host.
const rke2SupervisorPort = 9345

// distributions are the binaries the harness knows.
var distributions = []distribution{
	{prefix: "k3lite", endpointEnv: "K3LITE_DATASTORE_ENDPOINT", networkAgentUser: "system:k3lite-agent-controller",
		styles: map[string][]string{"k3s": nil, "rke2": {"--control-plane=static-pods"}}},
	{prefix: "k3s", endpointEnv: "K3S_DATASTORE_ENDPOINT", networkAgentUser: "system:k3s-controller", agentsWhyNot: k3sAgentsWhyNot,
		styles: map[string][]string{"k3s": nil}},
	{prefix: "rke2", endpointEnv: "RKE2_DATASTORE_ENDPOINT", agentsWhyNot: k3sAgentsWhyNot,
		styles: map[string][]string{"rke2": nil}},
}

// distributionOf finds binary's distribution by its name.
func distributionOf(binary string) (distribution, bool) {
	name := strings.ToLower(filepath.Base(binary))
	for _, d := range distributions {
		if strings.HasPrefix(name, d.prefix) {
			return d, true
		}
	}
	return distribution{}, false
}

// knownPrefixes are the names a binary may start with.
func knownPrefixes() []string {
	out := make([]string, len(distributions))
	for i, d := range distributions {
		out[i] = d.prefix
	}
	return out
}

// NetworkAgentUser is the user binary's built-in network agent (flannel)
// authenticates as, "" when the harness does not know it.
func NetworkAgentUser(binary string) string {
	d, _ := distributionOf(binary)
	return d.networkAgentUser
}

// styleOf is what running binary in style takes: the server flags that
// select the style, and the supervisor port agents join through (0: the
// API's). A binary the harness does not know runs any style as it is.
func styleOf(binary, style string) (args []string, supervisorPort int, err error) {
	if style == "rke2" {
		supervisorPort = rke2SupervisorPort
	}
	d, ok := distributionOf(binary)
	if !ok {
		return nil, supervisorPort, nil
	}
	args, ok = d.styles[style]
	if !ok {
		return nil, 0, fmt.Errorf("profile style %s: binary %s (%s) runs only %s; use a k3lite binary, or one of that style",
			style, filepath.Base(binary), d.prefix, strings.Join(slices.Sorted(maps.Keys(d.styles)), ", "))
	}
	return args, supervisorPort, nil
}
