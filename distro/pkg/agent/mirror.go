package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	containerd "github.com/containerd/containerd/v2/client"

	"github.com/distrobench/distrobench/distro/pkg/registry"
)

// configureRegistries writes containerd's hosts directory from the
// registries.yaml and, when mirror is not nil, the embedded registry
// listening there.
func configureRegistries(p paths, regs *Registries, cfg Config, mirror net.Listener, log *slog.Logger) error {
	mirrorAddr := ""
	if mirror != nil {
		mirrorAddr = mirror.Addr().String()
	}
	source := cfg.PrivateRegistry
	if source == "" {
		source = "no registries.yaml"
	}
	files, err := registryHostsFiles(regs, mirrorAddr, cfg.DisableDefaultRegistryEndpoint, source)
	if err != nil {
		return fmt.Errorf("--private-registry %s: %w", cfg.PrivateRegistry, err)
	}
	if err := writeHostsDir(p.registryHosts, files); err != nil {
		return err
	}
	// Host names and endpoints only: credentials are never logged.
	if cfg.PrivateRegistry != "" {
		log.Info("private registry configuration", "file", cfg.PrivateRegistry, "mirrors", regs.MirroredHosts(),
			"configs", sortedKeys(regs.Configs), "disableDefaultEndpoint", cfg.DisableDefaultRegistryEndpoint, "hostsDir", p.registryHosts)
	}
	if mirror != nil && len(regs.Mirrors) == 0 {
		log.Warn("embedded registry is on, but no registry is listed under mirrors: in the registries.yaml (--private-registry), so containerd uses it for none (as with K3s: list e.g. docker.io and registry.k8s.io, or *)")
	}
	return nil
}

// serveEmbeddedRegistry serves the read-only registry mirror of this node's
// containerd on l; the returned func stops it.
func serveEmbeddedRegistry(l net.Listener, socket string, log *slog.Logger) (func(), error) {
	cl, err := containerd.New(socket, containerd.WithDefaultNamespace(registry.Namespace), containerd.WithTimeout(10*time.Second))
	if err != nil {
		return nil, fmt.Errorf("embedded registry: connect to containerd at %s: %w", socket, err)
	}
	srv := &http.Server{
		Handler:           registry.New(registry.ContainerdStore{Client: cl}, log.With("component", "embedded-registry")),
		ReadHeaderTimeout: 10 * time.Second,
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("embedded registry stopped", "err", err)
		}
	}()
	log.Info("embedded registry mirror serving this node's images", "address", "http://"+l.Addr().String())
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		<-done
		cl.Close()
	}, nil
}
