package deploy

import (
	"context"
	"fmt"
	"net"
	"regexp"

	"github.com/distrobench/distrobench/internal/datastore"
	"github.com/distrobench/distrobench/internal/datastore/dstype"
	"github.com/distrobench/distrobench/internal/profile"
)

// datastoreChoice is the datastore Up prepares and the user's endpoint
// ("" for none): the options' when set, else the profile's (defaulted by
// profile.SetDefaults, validated by profile.Validate). The profile's
// endpoint belongs to the profile's datastore only.
func (o Options) datastoreChoice(p *profile.Profile) (name, endpoint string) {
	name, endpoint = o.Datastore, o.Endpoint
	if name == "" {
		name = p.Spec.Datastore.Type
	}
	if endpoint == "" && name == p.Spec.Datastore.Type {
		endpoint = p.Spec.Datastore.Endpoint
	}
	return name, endpoint
}

var loopbackRE = regexp.MustCompile(`\b(127\.0\.0\.1|localhost)\b`)

// serverEndpoint is endpoint as the server must be given it, checked once
// from where the server runs. On a simulated host the machine's loopback
// is not the server's, so a loopback endpoint is rewritten to the bridge's
// gateway address, and every address is dialled from inside the server's
// namespace: a datastore server that listens on loopback only is
// unreachable from there (the root namespace does not forward or NAT),
// which is reported, with what to do, instead of a server that never gets
// ready. Without simulated hosts nothing is dialled: a local server the
// run started has answered already, and a user's endpoint was dialled
// before anything was built (the CLI's checkEndpoint), which is where a
// wrong endpoint must be found. A sqlite:// endpoint is a file.
func (c *Cluster) serverEndpoint(ctx context.Context, endpoint string) (string, error) {
	if c.Network == nil || dstype.InServer(c.Datastore) {
		return endpoint, nil
	}
	endpoint = loopbackRE.ReplaceAllString(endpoint, c.Network.Gateway)
	h := c.Network.Hosts[0]
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		if network != "tcp" {
			// A Unix socket is a file: namespaces share the file system.
			return (&net.Dialer{}).DialContext(ctx, network, addr)
		}
		return h.Dial(ctx, addr)
	}
	if err := datastore.CheckReachable(ctx, endpoint, dial); err != nil {
		return "", fmt.Errorf("not reachable from the server's simulated host: %w; the host reaches the machine only at %s, without forwarding: the datastore server must listen on that address, not only on 127.0.0.1 (or use sqlite or embedded-etcd, or --disable-agent in the server args and no agents)",
			err, c.Network.Gateway)
	}
	return endpoint, nil
}
