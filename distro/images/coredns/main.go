// Command coredns is CoreDNS v1.15.0 linked with only the plugins k3lite's
// CoreDNS add-on (its Corefile) uses, so the image stays small and the build
// pulls in none of the cloud-provider plugins (route53, azure, clouddns, ...).
//
// The wiring is CoreDNS's own: every plugin package registers itself with
// caddy in its init(), core/dnsserver orders them by its directive list, and
// coremain.Run parses -conf and serves. Upstream's main imports
// core/plugin (all plugins); this one imports a chosen subset instead. A
// Corefile naming a plugin not linked here fails at start with
// "unknown directive".
package main

import (
	"github.com/coredns/coredns/coremain"

	// The plugins of k3lite's Corefile (K3s's Corefile): keep in sync with
	// the CoreDNS add-on manifest. "import" is built into the Corefile
	// parser and needs no plugin.
	_ "github.com/coredns/coredns/plugin/cache"
	_ "github.com/coredns/coredns/plugin/errors"
	_ "github.com/coredns/coredns/plugin/forward"
	_ "github.com/coredns/coredns/plugin/health"
	_ "github.com/coredns/coredns/plugin/hosts" // K3s's NodeHosts block
	_ "github.com/coredns/coredns/plugin/kubernetes"
	_ "github.com/coredns/coredns/plugin/loadbalance"
	_ "github.com/coredns/coredns/plugin/log"
	_ "github.com/coredns/coredns/plugin/loop"
	_ "github.com/coredns/coredns/plugin/metrics" // the "prometheus" directive
	_ "github.com/coredns/coredns/plugin/ready"
	_ "github.com/coredns/coredns/plugin/reload"
)

func main() {
	coremain.Run()
}
