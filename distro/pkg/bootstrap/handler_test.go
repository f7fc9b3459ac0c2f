package bootstrap

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/distrobench/distrobench/distro/pkg/pki"
	"github.com/distrobench/distrobench/distro/pkg/token"
)

const hndSecret = "s3cr3t-join-secret"

type hndEnv struct {
	srv    *httptest.Server
	caPEM  []byte
	bundle *pki.Bundle
	logs   *bytes.Buffer
	next   int // requests that reached the wrapped handler
}

func hndSetup(t *testing.T) *hndEnv {
	t.Helper()
	b, err := pki.Ensure(pki.Options{Dir: filepath.Join(t.TempDir(), "tls")})
	if err != nil {
		t.Fatal(err)
	}
	caPEM, err := os.ReadFile(b.CACert)
	if err != nil {
		t.Fatal(err)
	}
	hash := pki.HashBytes(caPEM)
	env := &hndEnv{caPEM: caPEM, bundle: b, logs: &bytes.Buffer{}}
	h, err := NewHandler(HandlerConfig{
		CACertFile: b.CACert,
		CAKeyFile:  b.CAKey,
		Tokens: []token.Token{
			{CAHash: hash, Username: token.ServerUser, Password: hndSecret},
			{CAHash: hash, Username: token.NodeUser, Password: hndSecret},
		},
		Agent: AgentConfig{ClusterCIDR: "10.42.0.0/16", ServiceCIDR: "10.43.0.0/16", ClusterDNS: []string{"10.43.0.10"},
			ClusterDomain: "cluster.local", FlannelBackend: "vxlan", SandboxImage: PauseImage},
		Log: slog.New(slog.NewTextHandler(env.logs, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	next := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		env.next++
		w.WriteHeader(http.StatusTeapot)
	})
	env.srv = httptest.NewServer(h.Wrap(next))
	t.Cleanup(env.srv.Close)
	return env
}

func (e *hndEnv) do(t *testing.T, method, path, user, pass string, body any) (int, []byte) {
	t.Helper()
	var r io.Reader
	if body != nil {
		data, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		r = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, e.srv.URL+path, r)
	if err != nil {
		t.Fatal(err)
	}
	if user != "" || pass != "" {
		req.SetBasicAuth(user, pass)
	}
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, data
}

func hndCSR(t *testing.T) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{
		Subject: pkix.Name{CommonName: "system:admin", Organization: []string{"system:masters"}},
	}, key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}))
}

func hndParse(t *testing.T, body []byte) (*CertResponse, *x509.Certificate) {
	t.Helper()
	var resp CertResponse
	if err := json.Unmarshal(body, &resp); err != nil {
		t.Fatalf("decode %s: %v", body, err)
	}
	block, _ := pem.Decode([]byte(resp.Certificate))
	if block == nil {
		t.Fatalf("no certificate in %s", body)
	}
	c, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return &resp, c
}

func TestCACertsIsUnauthenticatedAndMatchesTokenHash(t *testing.T) {
	e := hndSetup(t)
	code, body := e.do(t, http.MethodGet, PathCACerts, "", "", nil)
	if code != http.StatusOK {
		t.Fatalf("GET /cacerts: %d %s", code, body)
	}
	sum := sha256.Sum256(body)
	want, _ := pki.CAHash(e.bundle.CACert)
	if hex.EncodeToString(sum[:]) != want {
		t.Error("the /cacerts body does not hash to the CA hash in the token")
	}
	if code, _ := e.do(t, http.MethodPost, PathCACerts, "", "", nil); code != http.StatusMethodNotAllowed {
		t.Errorf("POST /cacerts: %d, want 405", code)
	}
}

func TestConfigNeedsToken(t *testing.T) {
	e := hndSetup(t)
	for _, user := range []string{token.NodeUser, token.ServerUser} {
		code, body := e.do(t, http.MethodGet, PathConfig, user, hndSecret, nil)
		if code != http.StatusOK {
			t.Fatalf("%s token: %d %s", user, code, body)
		}
		var cfg AgentConfig
		if err := json.Unmarshal(body, &cfg); err != nil {
			t.Fatal(err)
		}
		if cfg.ClusterCIDR != "10.42.0.0/16" || !slices.Equal(cfg.ClusterDNS, []string{"10.43.0.10"}) || cfg.SandboxImage != PauseImage {
			t.Errorf("config %+v", cfg)
		}
	}
	for name, c := range map[string][2]string{
		"none":          {"", ""},
		"wrong secret":  {token.NodeUser, "wrong-secret-value"},
		"wrong user":    {"admin", hndSecret},
		"prefix secret": {token.NodeUser, hndSecret[:5]},
	} {
		code, body := e.do(t, http.MethodGet, PathConfig, c[0], c[1], nil)
		if code != http.StatusUnauthorized {
			t.Errorf("%s: %d, want 401", name, code)
		}
		if !strings.Contains(string(body), "token does not match this server") {
			t.Errorf("%s: body %q does not explain the refusal", name, body)
		}
		if c[1] != "" && strings.Contains(string(body)+e.logs.String(), c[1]) {
			t.Errorf("%s: the presented secret is echoed", name)
		}
	}
	if strings.Contains(e.logs.String(), hndSecret) {
		t.Error("the secret appears in the log")
	}
}

func TestSignKubeletClientForcesSubject(t *testing.T) {
	e := hndSetup(t)
	code, body := e.do(t, http.MethodPost, PathCerts+CertKubeletClient, token.NodeUser, hndSecret,
		CertRequest{NodeName: "node-1", CSR: hndCSR(t), IPs: []string{"10.0.0.1"}})
	if code != http.StatusOK {
		t.Fatalf("%d %s", code, body)
	}
	resp, c := hndParse(t, body)
	if c.Subject.CommonName != "system:node:node-1" || !slices.Equal(c.Subject.Organization, []string{"system:nodes"}) {
		t.Errorf("subject %v, want the server's (CSR asked for system:admin/system:masters)", c.Subject)
	}
	if len(c.IPAddresses) != 0 || !slices.Equal(c.ExtKeyUsage, []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}) {
		t.Errorf("client certificate: SANs %v, usage %v", c.IPAddresses, c.ExtKeyUsage)
	}
	if resp.ClientCA != string(e.caPEM) || resp.ServerCA != string(e.caPEM) {
		t.Error("response does not carry the cluster CA")
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(e.caPEM)
	if _, err := c.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Errorf("not signed by the cluster CA: %v", err)
	}
}

func TestSignKubeletServingGetsSANs(t *testing.T) {
	e := hndSetup(t)
	code, body := e.do(t, http.MethodPost, PathCerts+CertKubeletServing, token.NodeUser, hndSecret,
		CertRequest{NodeName: "Node-1", CSR: hndCSR(t), IPs: []string{"10.0.0.7", "fd00::7"}, DNSNames: []string{"node-1.example"}})
	if code != http.StatusBadRequest {
		t.Fatalf("upper-case node name: %d %s, want 400", code, body)
	}
	code, body = e.do(t, http.MethodPost, PathCerts+CertKubeletServing, token.NodeUser, hndSecret,
		CertRequest{NodeName: "node-1", CSR: hndCSR(t), IPs: []string{"10.0.0.7", "fd00::7"}, DNSNames: []string{"node-1.example"}})
	if code != http.StatusOK {
		t.Fatalf("%d %s", code, body)
	}
	_, c := hndParse(t, body)
	if c.Subject.CommonName != "system:node:node-1" {
		t.Errorf("CN %q", c.Subject.CommonName)
	}
	if !slices.Equal(c.DNSNames, []string{"node-1", "node-1.example"}) || len(c.IPAddresses) != 2 || c.IPAddresses[0].String() != "10.0.0.7" || c.IPAddresses[1].String() != "fd00::7" {
		t.Errorf("SANs %v %v", c.DNSNames, c.IPAddresses)
	}
	if !slices.Equal(c.ExtKeyUsage, []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}) {
		t.Errorf("usage %v, want server auth", c.ExtKeyUsage)
	}
	code, body = e.do(t, http.MethodPost, PathCerts+CertKubeletServing, token.NodeUser, hndSecret,
		CertRequest{NodeName: "node-1", CSR: hndCSR(t), IPs: []string{"not-an-ip"}})
	if code != http.StatusBadRequest || !strings.Contains(string(body), "not-an-ip") {
		t.Errorf("bad IP: %d %s, want 400 naming it", code, body)
	}
}

func TestSignFixedSubjects(t *testing.T) {
	e := hndSetup(t)
	for kind, cn := range map[string]string{CertKubeProxy: KubeProxyCN, CertAgentController: AgentControllerCN} {
		code, body := e.do(t, http.MethodPost, PathCerts+kind, token.ServerUser, hndSecret, CertRequest{NodeName: "n", CSR: hndCSR(t)})
		if code != http.StatusOK {
			t.Fatalf("%s: %d %s", kind, code, body)
		}
		if _, c := hndParse(t, body); c.Subject.CommonName != cn || len(c.Subject.Organization) != 0 {
			t.Errorf("%s: subject %v, want CN %s and no groups", kind, c.Subject, cn)
		}
	}
}

func TestSignRejects(t *testing.T) {
	e := hndSetup(t)
	csr := hndCSR(t)
	cases := []struct {
		name, path, user string
		body             any
		code             int
		msg              string
	}{
		{"bad token", PathCerts + CertKubeletClient, "nobody", CertRequest{NodeName: "n", CSR: csr}, http.StatusUnauthorized, "token does not match"},
		{"bad CSR", PathCerts + CertKubeletClient, token.NodeUser, CertRequest{NodeName: "n", CSR: "-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n"}, http.StatusBadRequest, "invalid certificate signing request"},
		{"no CSR", PathCerts + CertKubeletClient, token.NodeUser, CertRequest{NodeName: "n"}, http.StatusBadRequest, "no PEM block"},
		{"no node", PathCerts + CertKubeletClient, token.NodeUser, CertRequest{CSR: csr}, http.StatusBadRequest, "nodeName is required"},
		{"not JSON", PathCerts + CertKubeletClient, token.NodeUser, "just a string", http.StatusBadRequest, "not a JSON CertRequest"},
		{"unknown kind", PathCerts + "admin", token.NodeUser, CertRequest{NodeName: "n", CSR: csr}, http.StatusNotFound, "kubelet-client, kubelet-serving, kube-proxy, agent-controller"},
		{"unknown path", "/v1-k3lite/other", token.NodeUser, nil, http.StatusNotFound, "no join endpoint"},
	}
	for _, c := range cases {
		pass := hndSecret
		if c.user == "nobody" {
			pass = "x"
		}
		code, body := e.do(t, http.MethodPost, c.path, c.user, pass, c.body)
		if code != c.code || !strings.Contains(string(body), c.msg) {
			t.Errorf("%s: %d %q, want %d containing %q", c.name, code, body, c.code, c.msg)
		}
	}
	if code, _ := e.do(t, http.MethodGet, PathCerts+CertKubeletClient, token.NodeUser, hndSecret, nil); code != http.StatusMethodNotAllowed {
		t.Errorf("GET on a cert path: %d, want 405", code)
	}
	if e.next != 0 {
		t.Errorf("%d join requests leaked to the apiserver handler", e.next)
	}
}

func TestWrapPassesOtherPaths(t *testing.T) {
	e := hndSetup(t)
	for _, p := range []string{"/readyz", "/api/v1/nodes", "/cacertsx", "/v1-k3litex"} {
		if code, _ := e.do(t, http.MethodGet, p, "", "", nil); code != http.StatusTeapot {
			t.Errorf("%s: %d, want the wrapped handler's 418", p, code)
		}
	}
	if e.next != 4 {
		t.Errorf("wrapped handler saw %d requests, want 4", e.next)
	}
}

func TestNewHandlerNeedsTokens(t *testing.T) {
	b, err := pki.Ensure(pki.Options{Dir: filepath.Join(t.TempDir(), "tls")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewHandler(HandlerConfig{CACertFile: b.CACert, CAKeyFile: b.CAKey}); err == nil {
		t.Error("a handler without tokens would refuse every node; want an error")
	}
	if _, err := NewHandler(HandlerConfig{CACertFile: b.CACert, CAKeyFile: b.CAKey, Tokens: []token.Token{{Password: "x"}}}); err == nil {
		t.Error("a token without user name accepted")
	}
}
