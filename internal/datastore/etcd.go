package datastore

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/distrobench/distrobench/internal/process"
	"github.com/distrobench/distrobench/internal/profile"
)

func init() { Register(etcdDriver{}) }

// etcdDriver starts a local single-member etcd (Debian's etcd-server) for
// the run, on plain HTTP bound to 127.0.0.1 (no secret in its endpoint).
type etcdDriver struct{}

func (etcdDriver) Name() string { return profile.DatastoreEtcd }
func (etcdDriver) Description() string {
	return "external etcd: a local etcd server for the run, or --datastore-endpoint http(s)://host:2379"
}

func (etcdDriver) Start(ctx context.Context, dir string, g *process.Group, log *slog.Logger) (inst *Instance, err error) {
	etcd, err := findBinary("etcd")
	if err != nil {
		return nil, err
	}
	dataDir := filepath.Join(dir, "etcd")
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, fmt.Errorf("etcd: create data dir: %w", err)
	}
	clientPort, err := FreePort()
	if err != nil {
		return nil, err
	}
	peerPort, err := FreePort()
	for err == nil && peerPort == clientPort {
		peerPort, err = FreePort()
	}
	if err != nil {
		return nil, err
	}
	client := fmt.Sprintf("http://127.0.0.1:%d", clientPort)
	peer := fmt.Sprintf("http://127.0.0.1:%d", peerPort)
	var env []string
	if runtime.GOARCH == "arm64" {
		env = append(env, "ETCD_UNSUPPORTED_ARCH=arm64") // etcd 3.4 refuses arm64 without it
	}
	p, err := g.Start(ctx, process.Spec{
		Name: "etcd", Path: etcd, LogPath: filepath.Join(dir, "etcd.log"), Env: env,
		Args: []string{"--name", "default", "--data-dir", dataDir,
			"--listen-client-urls", client, "--advertise-client-urls", client,
			"--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
			"--initial-cluster", "default=" + peer, "--initial-cluster-state", "new"},
	})
	if err != nil {
		return nil, fmt.Errorf("etcd: %w", err)
	}
	defer func() {
		if err != nil {
			_, _, _ = p.Stop(process.DefaultStopTimeout)
		}
	}()
	// /health answers true only after a quorum read went through raft.
	if err := waitReady(ctx, p, "etcd", func(ctx context.Context) error { return etcdHealthy(ctx, client) }); err != nil {
		return nil, fmt.Errorf("etcd: %w", err)
	}
	inst = &Instance{
		Driver:     profile.DatastoreEtcd,
		Endpoint:   client,
		ServerArgs: []string{"--datastore-endpoint", client},
		Procs:      []*process.Proc{p},
		DataDirs:   []string{dataDir},
	}
	if log != nil {
		log.Info("datastore ready", "datastore", inst.Driver, "endpoint", inst.Redacted(), "pid", p.PID, "log", p.LogPath)
	}
	return inst, nil
}

func etcdHealthy(ctx context.Context, client string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, client+"/health", nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `"health":"true"`) {
		return fmt.Errorf("etcd /health: %s %s", resp.Status, strings.TrimSpace(string(body)))
	}
	return nil
}
