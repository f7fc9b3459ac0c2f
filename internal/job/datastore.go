package job

import (
	"context"
	"log/slog"
	"runtime"

	"github.com/distrobench/distrobench/internal/build"
	"github.com/distrobench/distrobench/internal/datastore/dstype"
	"github.com/distrobench/distrobench/internal/profile"
)

// EtcdBinary returns the etcd server for p's datastore when it is a local
// etcd (type etcd, no endpoint): the one built from the distro module, so
// the external-etcd figures are made with the etcd release k3lite embeds,
// not whatever the machine's package manager ships. "" for every other
// datastore. The datastore runs on this machine, so it is built for the
// machine's arch whatever the profile's.
func EtcdBinary(ctx context.Context, repoRoot string, p *profile.Profile, log *slog.Logger, status func(string)) (string, error) {
	if p.Spec.Datastore.Type != dstype.Etcd || p.Spec.Datastore.Endpoint != "" {
		return "", nil
	}
	return build.Etcd(ctx, repoRoot, runtime.GOARCH, log, status)
}
