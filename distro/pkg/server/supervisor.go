package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/distrobench/distrobench/distro/pkg/bootstrap"
	"github.com/distrobench/distrobench/distro/pkg/pki"
)

// supervisor serves the join endpoints on a port of their own (RKE2's
// supervisor, 9345) when the apiserver is another process: agents join
// there and reach the API on 6443 (bootstrap.AgentConfig.APIServerPort).
type supervisor struct {
	srv  *http.Server
	errc chan error
}

// startSupervisor serves join on addr with the apiserver's serving
// certificate (its SANs hold the node's addresses and loopback), plus
// GET /ping.
func startSupervisor(addr string, b *pki.Bundle, join *bootstrap.Handler, log *slog.Logger) (*supervisor, error) {
	cert, err := tls.LoadX509KeyPair(b.ServingCert, b.ServingKey)
	if err != nil {
		return nil, fmt.Errorf("supervisor: serving certificate: %w", err)
	}
	l, err := tls.Listen("tcp", addr, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12})
	if err != nil {
		return nil, fmt.Errorf("supervisor: %w (is another server running? pick another --supervisor-port)", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /ping", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("pong")) })
	s := &supervisor{
		srv:  &http.Server{Handler: join.Wrap(mux), ReadHeaderTimeout: 10 * time.Second},
		errc: make(chan error, 1),
	}
	go func() {
		if err := s.srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.errc <- err
		}
	}()
	log.Info("supervisor serving the join endpoints", "addr", addr)
	return s, nil
}

func (s *supervisor) stop() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_ = s.srv.Shutdown(ctx)
}
