package bootstrap

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/distrobench/distrobench/distro/pkg/token"
)

const clientTestSecret = "0123456789abcdef0123456789abcdef"

// clientTestServer serves the join endpoints over TLS; its "CA" is the test
// server's own self-signed certificate, so the pinned pool verifies it.
func clientTestServer(t *testing.T) (*httptest.Server, string) {
	t.Helper()
	mux := http.NewServeMux()
	var caPEM []byte
	mux.HandleFunc("GET "+PathCACerts, func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write(caPEM)
	})
	authed := func(h http.HandlerFunc) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			u, p, ok := r.BasicAuth()
			if !ok || u != token.NodeUser || p != clientTestSecret {
				http.Error(w, "unauthorized", http.StatusUnauthorized)
				return
			}
			h(w, r)
		}
	}
	mux.HandleFunc("GET "+PathConfig, authed(func(w http.ResponseWriter, _ *http.Request) {
		_ = json.NewEncoder(w).Encode(AgentConfig{ClusterCIDR: "10.42.0.0/16", ClusterDNS: []string{"10.43.0.10"}, ClusterDomain: "cluster.local", FlannelBackend: "vxlan", SandboxImage: PauseImage, EmbeddedRegistry: true})
	}))
	mux.HandleFunc("POST "+PathCerts+"{kind}", authed(func(w http.ResponseWriter, r *http.Request) {
		var req CertRequest
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil || req.NodeName == "" || !strings.Contains(req.CSR, "CERTIFICATE REQUEST") {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		_ = json.NewEncoder(w).Encode(CertResponse{Certificate: "CERT for " + r.PathValue("kind") + " " + req.NodeName, ClientCA: "client-ca", ServerCA: "server-ca"})
	}))
	srv := httptest.NewTLSServer(mux)
	t.Cleanup(srv.Close)
	caPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	sum := sha256.Sum256(caPEM)
	return srv, hex.EncodeToString(sum[:])
}

func clientTestLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func TestClientPinsCAAndTalksToServer(t *testing.T) {
	srv, hash := clientTestServer(t)
	ctx := context.Background()
	c, err := NewClient(ctx, srv.URL, token.Token{CAHash: hash, Username: token.NodeUser, Password: clientTestSecret}, clientTestLog())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(c.CACerts()), "BEGIN CERTIFICATE") {
		t.Errorf("CACerts = %q", c.CACerts())
	}
	cfg, err := c.Config(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.ClusterCIDR != "10.42.0.0/16" || cfg.ClusterDomain != "cluster.local" || cfg.SandboxImage != PauseImage || !cfg.EmbeddedRegistry {
		t.Errorf("config = %+v", cfg)
	}
	resp, err := c.Sign(ctx, CertKubeletServing, CertRequest{NodeName: "n1", CSR: "-----BEGIN CERTIFICATE REQUEST-----"})
	if err != nil {
		t.Fatal(err)
	}
	if resp.Certificate != "CERT for kubelet-serving n1" || resp.ClientCA != "client-ca" {
		t.Errorf("response = %+v", resp)
	}
	if _, err := c.Sign(ctx, "admin", CertRequest{}); err == nil {
		t.Error("an unknown certificate kind was sent")
	}
}

func TestClientRejectsCAOfAnotherCluster(t *testing.T) {
	srv, _ := clientTestServer(t)
	other := strings.Repeat("ab", 32)
	_, err := NewClient(context.Background(), srv.URL, token.Token{CAHash: other, Username: token.NodeUser, Password: clientTestSecret}, clientTestLog())
	if !errors.Is(err, ErrCAMismatch) {
		t.Fatalf("err = %v, want ErrCAMismatch", err)
	}
	if !strings.Contains(err.Error(), "wrong --server or token") {
		t.Errorf("error does not say what to do: %v", err)
	}
	if Retryable(err) {
		t.Error("a CA mismatch must not be retried")
	}
}

func TestClientWrongPasswordIs401WithoutLeakingIt(t *testing.T) {
	srv, hash := clientTestServer(t)
	const wrong = "not-the-clientTestSecret-at-all"
	c, err := NewClient(context.Background(), srv.URL, token.Token{CAHash: hash, Username: token.NodeUser, Password: wrong}, clientTestLog())
	if err != nil {
		t.Fatal(err) // /cacerts is unauthenticated
	}
	_, err = c.Config(context.Background())
	if !errors.Is(err, ErrUnauthorized) {
		t.Fatalf("err = %v, want ErrUnauthorized", err)
	}
	if !strings.Contains(err.Error(), "check --token") || strings.Contains(err.Error(), wrong) {
		t.Errorf("error = %q", err)
	}
	if Retryable(err) {
		t.Error("a refused token must not be retried")
	}
}

func TestClientBareTokenTrustsOnFirstUseWithWarning(t *testing.T) {
	srv, _ := clientTestServer(t)
	var logs strings.Builder
	log := slog.New(slog.NewTextHandler(&logs, nil))
	c, err := NewClient(context.Background(), srv.URL, token.Token{Password: clientTestSecret}, log)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Config(context.Background()); err != nil {
		t.Fatalf("bare token must authenticate as user node: %v", err)
	}
	if !strings.Contains(logs.String(), "level=WARN") || strings.Contains(logs.String(), clientTestSecret) {
		t.Errorf("want a warning without the clientTestSecret, got %q", logs.String())
	}
}

func TestClientUnreachableIsRetryable(t *testing.T) {
	srv, hash := clientTestServer(t)
	url := srv.URL
	srv.Close()
	_, err := NewClient(context.Background(), url, token.Token{CAHash: hash, Username: token.NodeUser, Password: clientTestSecret}, clientTestLog())
	if err == nil || !Retryable(err) {
		t.Fatalf("err = %v, want a retryable error", err)
	}
	if !strings.Contains(err.Error(), "unreachable") {
		t.Errorf("error = %q", err)
	}
}

func TestClientServerErrorIsRetryableButBadRequestIsNot(t *testing.T) {
	if !Retryable(&StatusError{Code: 503}) {
		t.Error("503 must be retryable")
	}
	if Retryable(&StatusError{Code: 400}) {
		t.Error("400 must not be retryable")
	}
}

func TestClientRejectsNonHTTPSURL(t *testing.T) {
	for _, u := range []string{"http://127.0.0.1:6443", "127.0.0.1:6443", "https://"} {
		if _, err := NewClient(context.Background(), u, token.Token{Password: clientTestSecret}, clientTestLog()); err == nil || !strings.Contains(err.Error(), "--server") {
			t.Errorf("NewClient(%q) err = %v", u, err)
		}
	}
}
