package deploy

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestNodesLocalDatastoresIntegration: a cluster with nodes on the local
// MariaDB, PostgreSQL and etcd servers the run starts. Each server also
// listens on the bridge's gateway, so Up's check from inside the server's
// simulated host (a TCP dial there) passes and the server is given the
// endpoint at the gateway; the machine's network is as before afterwards.
// (internal/datastore's TestExtraListenFromSimulatedHostIntegration logs
// in from a simulated host with the password.)
func TestNodesLocalDatastoresIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("integration: creates network namespaces (needs root) and starts mariadb-server, postgresql and etcd-server (hack/install-deps.sh datastores)")
	}
	before := hostSnapshot(t)
	for _, ds := range []string{"mysql", "postgres", "etcd"} {
		t.Run(ds, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			c, err := Up(ctx, Options{Profile: nodesProfile(0, nil), Datastore: ds, EtcdBinary: os.Getenv("DISTROBENCH_ETCD"), RunDir: filepath.Join(t.TempDir(), "run")})
			if err != nil {
				t.Fatalf("Up with nodes on a local %s: %v", ds, err)
			}
			defer func() {
				if err := c.Down(context.Background()); err != nil {
					t.Errorf("Down: %v", err)
				}
			}()
			endpoint := received(t, c).Endpoint
			if !strings.Contains(endpoint, c.Network.Gateway+":") || strings.Contains(endpoint, "127.0.0.1") {
				t.Errorf("server's datastore endpoint %q, want it at the gateway %s", c.mask(endpoint), c.Network.Gateway)
			}
		})
	}
	diffSnapshots(t, before, hostSnapshot(t))
}
