package datastore

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	kinedrivers "github.com/k3s-io/kine/pkg/drivers"
	"github.com/k3s-io/kine/pkg/drivers/generic"
	"github.com/k3s-io/kine/pkg/drivers/sqlite"
	kineserver "github.com/k3s-io/kine/pkg/server"
	"go.etcd.io/etcd/server/v3/embed"
	"google.golang.org/grpc"
	"google.golang.org/grpc/keepalive"

	// Only the SQL backends k3lite offers are linked in. kine's own
	// pkg/endpoint blank-imports every backend (NATS with an embedded NATS
	// server, t4 with S3 and Pebble), which is why this file wires the few
	// kine pieces together itself instead of calling endpoint.Listen.
	_ "github.com/k3s-io/kine/pkg/drivers/mysql"
	_ "github.com/k3s-io/kine/pkg/drivers/pgsql"
)

// Defaults taken from kine's own server flags (pkg/app) so that k3lite's
// embedded kine behaves like a stand-alone kine and like K3s's.
const (
	kineNotifyInterval      = 5 * time.Second
	kineEmulatedEtcdVersion = "3.6.11"
	kineGracefulStop        = 2 * time.Second
	kineMaxSocketPath       = 100 // sun_path is 108 bytes; leave room
	grpcOverheadBytes       = 512 * 1024
)

func kineConfig(dsn string) *kinedrivers.Config {
	return &kinedrivers.Config{
		Endpoint: dsn,
		ConnectionPoolConfig: generic.ConnectionPoolConfig{
			MaxIdle:     20,
			MaxIdleTime: 2 * time.Minute,
		},
		PollInterval:     time.Second,
		CompactTimeout:   5 * time.Second,
		CompactMinRetain: 1000,
		CompactBatchSize: 1000,
		PollBatchSize:    500,
		// CompactInterval 0: kube-apiserver drives compaction.
	}
}

// kineDSN turns a parsed endpoint into the DSN kine's drivers expect. SQLite
// gets kine's default pragmas (WAL, busy timeout, immediate transactions)
// unless the user gave their own query string.
func kineDSN(e epView) string {
	if e.kind == "sqlite" {
		q := sqlite.DefaultParams
		if _, userQuery, ok := strings.Cut(e.raw, "?"); ok && userQuery != "" {
			q = userQuery
		}
		return "sqlite://" + e.path + "?" + q
	}
	return e.raw
}

// epView is the subset of endpoint.Endpoint that kineDSN needs; it keeps the
// function testable without depending on every field of the other package.
type epView struct{ kind, raw, path string }

// kineListenAddress picks a unix socket under the data dir, or a loopback
// TCP port when the path would not fit into a socket address.
func kineListenAddress(dataDir string) (network, address string) {
	sock := filepath.Join(dataDir, "server", "kine.sock")
	if abs, err := filepath.Abs(sock); err == nil {
		sock = abs
	}
	if len(sock) <= kineMaxSocketPath {
		return "unix", sock
	}
	return "tcp", "127.0.0.1:0"
}

func startKine(ctx context.Context, o Options) (*Datastore, error) {
	e := epView{kind: string(o.Endpoint.Kind), raw: o.Endpoint.Raw, path: o.Endpoint.Path}
	cfg := kineConfig(kineDSN(e))
	redacted := o.Endpoint.Redacted()

	// runCtx lives as long as the datastore: kine's backends close their
	// database connections when it is cancelled and report on wg.
	runCtx, cancel := context.WithCancel(context.Background())
	wg := &sync.WaitGroup{}
	fail := func(err error) (*Datastore, error) {
		cancel()
		waitGroupCtx(context.Background(), wg, 5*time.Second)
		return nil, err
	}

	type created struct {
		backend kineserver.Backend
		err     error
	}
	done := make(chan created, 1)
	go func() {
		_, backend, err := kinedrivers.New(runCtx, wg, cfg)
		done <- created{backend, err}
	}()
	timer := time.NewTimer(o.StartTimeout)
	defer timer.Stop()
	var backend kineserver.Backend
	select {
	case c := <-done:
		if c.err != nil {
			return fail(fmt.Errorf("datastore %s: %w", redacted, scrub(c.err, o.Endpoint.Raw)))
		}
		backend = c.backend
	case <-timer.C:
		cancel()
		<-done
		return fail(fmt.Errorf("datastore %s: no working connection after %s (the server answers on %s; check user, password, database name and permissions in the log lines above)",
			redacted, o.StartTimeout, net.JoinHostPort(o.Endpoint.Host, o.Endpoint.Port)))
	case <-ctx.Done():
		cancel()
		<-done
		return fail(ctx.Err())
	}
	if backend == nil {
		return fail(fmt.Errorf("datastore %s: kine returned no backend", redacted))
	}
	if err := backend.Start(runCtx); err != nil {
		return fail(fmt.Errorf("datastore %s: starting kine: %w", redacted, scrub(err, o.Endpoint.Raw)))
	}

	network, address := kineListenAddress(o.DataDir)
	if network == "unix" {
		if err := os.Remove(address); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fail(fmt.Errorf("removing stale kine socket %s: %w", address, err))
		}
	}
	lis, err := net.Listen(network, address)
	if err != nil {
		return fail(fmt.Errorf("kine listener %s: %w", address, err))
	}
	scheme := "http"
	if network == "unix" {
		if err := os.Chmod(address, 0o600); err != nil {
			_ = lis.Close()
			return fail(fmt.Errorf("restricting kine socket %s: %w", address, err))
		}
		scheme = "unix"
	}

	srv := grpc.NewServer(
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: embed.DefaultGRPCKeepAliveMinTime}),
		grpc.KeepaliveParams(keepalive.ServerParameters{
			Time:    embed.DefaultGRPCKeepAliveInterval,
			Timeout: embed.DefaultGRPCKeepAliveTimeout,
		}),
		grpc.MaxConcurrentStreams(embed.DefaultMaxConcurrentStreams),
		grpc.MaxRecvMsgSize(int(embed.DefaultMaxRequestBytes)+grpcOverheadBytes),
		grpc.MaxSendMsgSize(math.MaxInt32),
	)
	kineserver.New(backend, scheme, kineNotifyInterval, kineEmulatedEtcdVersion).Register(srv)
	served := make(chan struct{})
	go func() {
		defer close(served)
		if err := srv.Serve(lis); err != nil && !errors.Is(err, grpc.ErrServerStopped) {
			o.Logger.Error("kine gRPC server stopped", "err", err)
		}
	}()

	var url string
	if network == "unix" {
		url = "unix://" + address
	} else {
		url = "http://" + lis.Addr().String()
	}
	o.Logger.Info("kine is serving", "datastore", redacted, "listen", url)

	stop := func(ctx context.Context) error {
		graceful := make(chan struct{})
		go func() { srv.GracefulStop(); close(graceful) }()
		select {
		case <-graceful:
		case <-time.After(kineGracefulStop):
			srv.Stop()
		case <-ctx.Done():
			srv.Stop()
		}
		<-served
		cancel() // closes the database
		if !waitGroupCtx(ctx, wg, 0) {
			return fmt.Errorf("datastore %s: database not closed before the shutdown deadline", redacted)
		}
		if network == "unix" {
			_ = os.Remove(address)
		}
		return nil
	}
	return &Datastore{Kind: e.kind, Endpoints: []string{url}, stop: stop}, nil
}

// waitGroupCtx waits for wg until ctx is done (or, if max > 0, max passes).
// It reports whether the group finished.
func waitGroupCtx(ctx context.Context, wg *sync.WaitGroup, max time.Duration) bool {
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	var timeout <-chan time.Time
	if max > 0 {
		t := time.NewTimer(max)
		defer t.Stop()
		timeout = t.C
	}
	select {
	case <-done:
		return true
	case <-ctx.Done():
		return false
	case <-timeout:
		return false
	}
}

// scrub removes the endpoint's password from an error text, in case a
// driver echoes its DSN.
func scrub(err error, raw string) error {
	secret := Secret(raw)
	if err == nil || secret == "" || !strings.Contains(err.Error(), secret) {
		return err
	}
	return errors.New(strings.ReplaceAll(err.Error(), secret, "REDACTED"))
}
