package server

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/distrobench/distrobench/distro/pkg/datastore"
	"github.com/distrobench/distrobench/distro/pkg/pki"
)

// RunEtcd runs, on its own until ctx ends, the embedded etcd member of the
// server whose data dir is dataDir: `k3lite etcd`, the etcd static pod of
// the RKE2-style control plane. It is the member --cluster-init runs
// in-process (datastore's configuration, the server's certificates), so
// the process model is the only difference between the two.
func RunEtcd(ctx context.Context, dataDir string, log *slog.Logger) error {
	abs, err := filepath.Abs(dataDir)
	if err != nil {
		return fmt.Errorf("--data-dir %q: %w", dataDir, err)
	}
	certs := etcdCerts(pki.NewBundle(filepath.Join(abs, "server", "tls")))
	for _, f := range []string{certs.CAFile, certs.ServerCertFile, certs.ServerKeyFile} {
		if _, err := os.Stat(f); err != nil {
			return fmt.Errorf("etcd: %w (the server makes its certificates: start `k3lite server --data-dir %s` first)", err, abs)
		}
	}
	store, err := datastore.Start(ctx, datastore.Options{
		ClusterInit: true, DataDir: abs, Etcd: certs, StartTimeout: datastoreStartWindow, Logger: log,
	})
	if err != nil {
		return err
	}
	return store.Serve(ctx, stopDatastoreBy)
}
