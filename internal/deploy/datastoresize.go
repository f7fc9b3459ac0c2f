package deploy

import (
	"context"
	"fmt"
	"net"
	"strings"

	"github.com/distrobench/distrobench/internal/datastore"
	"github.com/distrobench/distrobench/internal/redact"
)

// DatastoreSize asks the cluster's datastore how big it is (see
// datastore.Size): through the endpoint the server was given, or, for a
// datastore inside the server, through the server's data directory, and
// on the server's simulated host when it runs on one. Errors never carry
// the datastore's password.
func (c *Cluster) DatastoreSize(ctx context.Context) (datastore.Sizes, error) {
	endpoint, err := c.sizeEndpoint()
	if err != nil {
		return datastore.Sizes{}, err
	}
	t := datastore.SizeTarget{Kind: c.Datastore, Endpoint: endpoint, ServerDataDir: c.DataDir}
	if endpoint == "" && c.Network != nil && len(c.Network.Hosts) > 0 {
		// A datastore inside the server listens on the loopback of the
		// server's host; an endpoint names this machine's addresses.
		h := c.Network.Hosts[0]
		t.Dial = func(ctx context.Context, _, addr string) (net.Conn, error) { return h.Dial(ctx, addr) }
	}
	return datastore.Size(ctx, t)
}

// sizeEndpoint is the unredacted endpoint the server was given. A cluster
// loaded from state.json has only the redacted one: usable as is when
// nothing was redacted (an etcd URL carries no password).
func (c *Cluster) sizeEndpoint() (string, error) {
	if c.ds != nil {
		return c.ds.Endpoint, nil
	}
	if !strings.Contains(c.DatastoreEndpoint, redact.Mask) {
		return c.DatastoreEndpoint, nil
	}
	return "", fmt.Errorf("the %s datastore's password is not kept in %s: its size is measured only by the process that started the cluster (distrobench run), not by bench on a cluster from up", c.Datastore, StateFile)
}
