package datastore

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"go.etcd.io/etcd/server/v3/embed"
)

const (
	defaultEtcdClientPort = 2379
	defaultEtcdPeerPort   = 2380
	etcdMemberName        = "default"
)

// EtcdDataDir is where the embedded etcd member keeps its data.
func EtcdDataDir(dataDir string) string {
	return filepath.Join(dataDir, "server", "db", "etcd")
}

// embeddedEtcdConfig builds the embed.Config for a single-member cluster on
// loopback. Clients must present a certificate signed by the cluster CA.
func embeddedEtcdConfig(o Options) (*embed.Config, error) {
	clientPort, peerPort := o.EtcdClientPort, o.EtcdPeerPort
	if clientPort == 0 {
		clientPort = defaultEtcdClientPort
	}
	if peerPort == 0 {
		peerPort = defaultEtcdPeerPort
	}
	clientURL, err := url.Parse("https://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(clientPort)))
	if err != nil {
		return nil, err
	}
	peerURL, err := url.Parse("http://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(peerPort)))
	if err != nil {
		return nil, err
	}
	cfg := embed.NewConfig()
	cfg.Name = etcdMemberName
	cfg.Dir = EtcdDataDir(o.DataDir)
	cfg.ListenClientUrls = []url.URL{*clientURL}
	cfg.AdvertiseClientUrls = []url.URL{*clientURL}
	cfg.ListenPeerUrls = []url.URL{*peerURL}
	cfg.AdvertisePeerUrls = []url.URL{*peerURL}
	cfg.InitialCluster = cfg.InitialClusterFromName(cfg.Name)
	cfg.ClientTLSInfo.CertFile = o.Etcd.ServerCertFile
	cfg.ClientTLSInfo.KeyFile = o.Etcd.ServerKeyFile
	cfg.ClientTLSInfo.TrustedCAFile = o.Etcd.CAFile
	cfg.ClientTLSInfo.ClientCertAuth = true
	// Metrics on the client port only; no extra listener.
	cfg.ListenMetricsUrls = nil
	cfg.LogLevel = "warn"
	// kube-apiserver drives compaction; etcd's own periodic compaction
	// stays off (the embed default). An existing member directory is reused
	// as is: etcd reads the initial-cluster settings only on first start.
	return cfg, nil
}

func startEmbeddedEtcd(ctx context.Context, o Options) (*Datastore, error) {
	cfg, err := embeddedEtcdConfig(o)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("creating etcd data dir %s: %w", cfg.Dir, err)
	}
	e, err := embed.StartEtcd(cfg)
	if err != nil {
		return nil, fmt.Errorf("starting embedded etcd in %s: %w", cfg.Dir, err)
	}
	timer := time.NewTimer(o.StartTimeout)
	defer timer.Stop()
	select {
	case <-e.Server.ReadyNotify():
	case err := <-e.Err():
		e.Close()
		return nil, fmt.Errorf("embedded etcd in %s failed: %w", cfg.Dir, err)
	case <-timer.C:
		e.Close()
		return nil, fmt.Errorf("embedded etcd in %s not ready after %s", cfg.Dir, o.StartTimeout)
	case <-ctx.Done():
		e.Close()
		return nil, ctx.Err()
	}
	o.Logger.Info("embedded etcd is serving", "dataDir", cfg.Dir, "client", cfg.ListenClientUrls[0].String())

	stop := func(ctx context.Context) error {
		closed := make(chan struct{})
		go func() { e.Close(); close(closed) }()
		select {
		case <-closed:
			return nil
		case <-ctx.Done():
			return fmt.Errorf("embedded etcd in %s not closed before the shutdown deadline", cfg.Dir)
		}
	}
	return &Datastore{
		Kind:      "embedded-etcd",
		Endpoints: []string{cfg.ListenClientUrls[0].String()},
		TLS: TLS{
			CAFile:   o.Etcd.CAFile,
			CertFile: o.Etcd.ClientCertFile,
			KeyFile:  o.Etcd.ClientKeyFile,
		},
		stop:   stop,
		failed: e.Err(),
	}, nil
}
