package job

import (
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/distrobench/distrobench/internal/datastore/dstype"
	"github.com/distrobench/distrobench/internal/profile"
)

func etcdProfile(ds, endpoint string) *profile.Profile {
	p := &profile.Profile{}
	p.Spec.Datastore.Type, p.Spec.Datastore.Endpoint = ds, endpoint
	return p
}

// Only a local etcd needs a binary; the repository root is not even looked
// at for the others (a bogus one would make build.Etcd fail).
func TestEtcdBinaryOnlyForLocalEtcd(t *testing.T) {
	for _, p := range []*profile.Profile{
		etcdProfile(dstype.SQLite, ""), etcdProfile(dstype.Postgres, ""),
		etcdProfile(dstype.EmbeddedEtcd, ""), etcdProfile(dstype.Etcd, "http://10.0.0.1:2379"),
	} {
		got, err := EtcdBinary(context.Background(), "/nonexistent", p, nil, nil)
		if got != "" || err != nil {
			t.Errorf("%s %q: EtcdBinary = %q, %v; want none", p.Spec.Datastore.Type, p.Spec.Datastore.Endpoint, got, err)
		}
	}
}

// Integration: a local etcd runs the distro module's etcd (make -C distro
// etcd-<arch>; a relink when warm), the release k3lite embeds.
func TestEtcdBinaryIsTheModulesEtcd(t *testing.T) {
	if testing.Short() {
		t.Skip("integration: builds etcd from the distro module with make")
	}
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	bin, err := EtcdBinary(context.Background(), root, etcdProfile(dstype.Etcd, ""), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bin, "--version").Output()
	if err != nil {
		t.Fatalf("%s --version: %v", bin, err)
	}
	want, err := exec.Command("go", "list", "-C", filepath.Join(root, "distro"), "-m", "-f", "{{.Version}}", "go.etcd.io/etcd/server/v3").Output()
	if err != nil {
		t.Fatalf("go list the distro module's etcd: %v", err)
	}
	if v := strings.TrimPrefix(strings.TrimSpace(string(want)), "v"); !strings.Contains(string(out), "etcd Version: "+v) {
		t.Errorf("%s --version = %q, want etcd %s (the distro module's)", bin, out, v)
	}
}
