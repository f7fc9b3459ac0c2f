package deploy

import (
	"path/filepath"
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
}

// distributions are the binaries the harness knows.
var distributions = []distribution{
	{prefix: "k3lite", endpointEnv: "K3LITE_DATASTORE_ENDPOINT", networkAgentUser: "system:k3lite-agent-controller"},
	{prefix: "k3s", endpointEnv: "K3S_DATASTORE_ENDPOINT", networkAgentUser: "system:k3s-controller", agentsWhyNot: k3sAgentsWhyNot},
	{prefix: "rke2", endpointEnv: "RKE2_DATASTORE_ENDPOINT", agentsWhyNot: k3sAgentsWhyNot},
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
