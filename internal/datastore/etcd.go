package datastore

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"

	"github.com/distrobench/distrobench/internal/datastore/dstype"
	"github.com/distrobench/distrobench/internal/process"
)

func init() { Register(etcdDriver{}) }

// etcdDriver starts a local single-member etcd (StartOptions.EtcdBinary,
// else the etcd in PATH) for
// the run, on plain HTTP bound to 127.0.0.1 and any extra address the
// caller gives (no secret in its endpoint; etcd has no authentication
// here, so an extra address should be one only the run's simulated hosts
// reach, such as a bridge's gateway).
type etcdDriver struct{}

func (etcdDriver) Name() string { return dstype.Etcd }
func (etcdDriver) Description() string {
	return "external etcd: a local etcd server for the run, or --datastore-endpoint http(s)://host:2379"
}

func (etcdDriver) Start(ctx context.Context, o StartOptions) (inst *Instance, err error) {
	extra, err := checkExtraListen(o.ExtraListen)
	if err != nil {
		return nil, fmt.Errorf("etcd: %w", err)
	}
	etcd := o.EtcdBinary
	if etcd == "" {
		if etcd, err = findBinary("etcd"); err != nil {
			return nil, err
		}
	}
	dataDir := filepath.Join(o.Dir, "etcd")
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
	args, clients := etcdArgs(dataDir, clientPort, peerPort, extra)
	var env []string
	if runtime.GOARCH == "arm64" {
		env = append(env, "ETCD_UNSUPPORTED_ARCH=arm64") // etcd 3.4 refuses arm64 without it; 3.5+ ignores it
	}
	p, err := o.Group.Start(ctx, process.Spec{
		Name: "etcd", Path: etcd, LogPath: filepath.Join(o.Dir, "etcd.log"), Env: env, Args: args,
	})
	if err != nil {
		return nil, fmt.Errorf("etcd: %w", err)
	}
	defer func() {
		if err != nil {
			_, _, _ = p.Stop(process.DefaultStopTimeout)
		}
	}()
	// /health answers true only after a quorum read went through raft; it
	// is asked on every client URL, so each address is known to serve.
	if err := waitReady(ctx, p, "etcd", func(ctx context.Context) error {
		for _, u := range clients {
			if err := etcdHealthy(ctx, u); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		return nil, fmt.Errorf("etcd: %w", err)
	}
	inst = &Instance{
		Driver:   dstype.Etcd,
		Endpoint: clients[0],
		Procs:    []*process.Proc{p},
		DataDirs: []string{dataDir},
		Version:  serverVersion(ctx, "etcd", etcd, etcdVersion),
	}
	if log := o.Log; log != nil {
		log.Info("datastore ready", "datastore", inst.Driver, "endpoint", inst.Redacted(), "listen", clients, "pid", p.PID, "log", p.LogPath)
	}
	return inst, nil
}

// etcdVersion matches `etcd --version`'s "etcd Version: 3.7.3".
var etcdVersion = regexp.MustCompile(`etcd Version: (\S+)`)

// etcdArgs are the flags of a single-member etcd whose clients may connect
// at 127.0.0.1 and every extra address (all advertised; peers stay on
// loopback). clients[0] is the loopback URL.
func etcdArgs(dataDir string, clientPort, peerPort int, extra []netip.Prefix) (args, clients []string) {
	for _, a := range listenAddrs(extra) {
		clients = append(clients, "http://"+net.JoinHostPort(a, strconv.Itoa(clientPort)))
	}
	peer := "http://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(peerPort))
	list := strings.Join(clients, ",")
	args = []string{"--name", "default", "--data-dir", dataDir,
		"--listen-client-urls", list, "--advertise-client-urls", list,
		"--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
		"--initial-cluster", "default=" + peer, "--initial-cluster-state", "new"}
	return args, clients
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
