// Package datastore starts the storage that kube-apiserver talks to: kine in
// front of SQLite, MySQL or PostgreSQL, an embedded etcd member for
// --cluster-init, or nothing at all for an external etcd (pass-through).
package datastore

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/distrobench/distrobench/distro/pkg/endpoint"
)

// DefaultStartTimeout bounds how long Start waits for a reachable database
// to accept the connection and create its schema.
const DefaultStartTimeout = 30 * time.Second

// TLS holds the client credentials kube-apiserver uses to reach etcd.
type TLS struct {
	CAFile, CertFile, KeyFile string
}

// EtcdCerts are the files the embedded etcd member serves with. The server
// certificate must carry 127.0.0.1 in its SANs; clients must present a
// certificate signed by CAFile.
type EtcdCerts struct {
	CAFile, ServerCertFile, ServerKeyFile string
	ClientCertFile, ClientKeyFile         string
}

// Options selects and configures a datastore.
type Options struct {
	// Endpoint is the parsed --datastore-endpoint (sqlite default included).
	Endpoint endpoint.Endpoint
	// ClusterInit starts an embedded etcd member instead of kine.
	ClusterInit bool
	// DataDir is k3lite's --data-dir; state lives under DataDir/server/db.
	DataDir string
	// ExternalTLS are the client credentials for an external etcd
	// (--datastore-cafile/--datastore-certfile/--datastore-keyfile).
	ExternalTLS TLS
	// Etcd configures the embedded member's TLS (ClusterInit only).
	Etcd EtcdCerts
	// EtcdClientPort and EtcdPeerPort default to 2379 and 2380.
	EtcdClientPort, EtcdPeerPort int
	// StartTimeout defaults to DefaultStartTimeout.
	StartTimeout time.Duration
	// Logger receives k3lite's own messages (never a password).
	Logger *slog.Logger
}

// Datastore is a running datastore as kube-apiserver sees it.
type Datastore struct {
	// Kind names what runs: "sqlite", "mysql", "postgres", "etcd" (external)
	// or "embedded-etcd".
	Kind string
	// Endpoints for --etcd-servers.
	Endpoints []string
	// TLS for --etcd-cafile/--etcd-certfile/--etcd-keyfile (may be empty).
	TLS TLS

	stop func(ctx context.Context) error
	// failed delivers the error of a datastore that stopped by itself
	// (nil: the datastore cannot tell).
	failed <-chan error
}

// Serve blocks until ctx ends, then closes the datastore (within
// stopTimeout), or until the datastore fails by itself: a datastore run as
// its own process (`k3lite etcd`, the RKE2-style control plane's etcd pod).
func (d *Datastore) Serve(ctx context.Context, stopTimeout time.Duration) error {
	select {
	case <-ctx.Done():
	case err := <-d.failed:
		_ = d.Close(context.Background())
		return fmt.Errorf("%s stopped: %w", d.Kind, err)
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), stopTimeout)
	defer cancel()
	return d.Close(sctx)
}

// Close stops the datastore and waits, bounded by ctx, until its files are
// closed. It is safe to call more than once.
func (d *Datastore) Close(ctx context.Context) error {
	if d == nil || d.stop == nil {
		return nil
	}
	stop := d.stop
	d.stop = nil
	return stop(ctx)
}

// Start runs the datastore selected by o. ctx bounds only the start-up; the
// datastore runs until Close.
func Start(ctx context.Context, o Options) (*Datastore, error) {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.StartTimeout <= 0 {
		o.StartTimeout = DefaultStartTimeout
	}
	if o.ClusterInit {
		// The caller rejects --cluster-init together with an explicit
		// --datastore-endpoint; Endpoint is ignored here.
		return startEmbeddedEtcd(ctx, o)
	}
	switch o.Endpoint.Kind {
	case "sqlite":
		if err := os.MkdirAll(filepath.Dir(o.Endpoint.Path), 0o700); err != nil {
			return nil, fmt.Errorf("creating directory for SQLite database %s: %w", o.Endpoint.Path, err)
		}
		return startKine(ctx, o)
	case "mysql", "postgres":
		if err := o.Endpoint.CheckReachable(ctx); err != nil {
			return nil, err
		}
		return startKine(ctx, o)
	case "etcd":
		if err := o.Endpoint.CheckReachable(ctx); err != nil {
			return nil, err
		}
		o.Logger.Info("using external etcd; no datastore is started in-process", "endpoint", o.Endpoint.Redacted())
		return &Datastore{
			Kind:      "etcd",
			Endpoints: splitEndpoints(o.Endpoint.Raw),
			TLS:       o.ExternalTLS,
			stop:      func(context.Context) error { return nil },
		}, nil
	default:
		return nil, fmt.Errorf("datastore %q: unsupported kind %q", o.Endpoint.Redacted(), o.Endpoint.Kind)
	}
}

func splitEndpoints(raw string) []string {
	var out []string
	for _, e := range strings.Split(raw, ",") {
		if e = strings.TrimSpace(e); e != "" {
			out = append(out, e)
		}
	}
	return out
}

// Secret returns the password embedded in a datastore endpoint, so that log
// writers can scrub it; "" if there is none. It understands the URL form
// (postgres://user:pass@host/db) and the go-sql-driver DSN form
// (mysql://user:pass@tcp(host:3306)/db).
func Secret(raw string) string {
	_, rest, ok := strings.Cut(raw, "://")
	if !ok {
		return ""
	}
	at := strings.LastIndex(rest, "@")
	if at < 0 {
		return ""
	}
	userinfo := rest[:at]
	if _, pass, ok := strings.Cut(userinfo, ":"); ok {
		return pass
	}
	return ""
}
