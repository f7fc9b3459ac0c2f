package bootstrap

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/distrobench/distrobench/distro/pkg/pki"
	"github.com/distrobench/distrobench/distro/pkg/token"
)

// maxRequestBody bounds a CertRequest: a PEM CSR plus a few SANs.
const maxRequestBody = 256 << 10

// pathPrefix is the namespace of the authenticated join endpoints; every
// path under it is answered by the Handler (404 for unknown ones) and never
// reaches the apiserver.
const pathPrefix = "/v1-k3lite/"

// Kinds lists every certificate kind a server signs, in a stable order.
func Kinds() []string {
	return []string{CertKubeletClient, CertKubeletServing, CertKubeProxy, CertAgentController}
}

// Subjects of the certificates the server issues.
const (
	NodeUserPrefix = "system:node:"
	NodesGroup     = "system:nodes"
	KubeProxyCN    = "system:kube-proxy"
)

// HandlerConfig is what the join endpoints serve and check.
type HandlerConfig struct {
	// CACertFile and CAKeyFile are the cluster CA (pki Bundle.CACert and
	// CAKey). Its certificate is served at /cacerts byte for byte (the
	// token pins its SHA-256), it signs every requested certificate and it
	// is returned as both ClientCA and ServerCA: k3lite has one cluster CA.
	CACertFile, CAKeyFile string
	// Tokens are the accepted credentials (user name and password), normally
	// the server token (user "server") and the node token (user "node").
	Tokens []token.Token
	// Agent is served at PathConfig.
	Agent AgentConfig
	// Log receives one line per signed certificate and per refused request
	// (never a secret). Nil means slog.Default().
	Log *slog.Logger
}

// Handler serves the join endpoints (see the package documentation). It is
// safe for concurrent use.
type Handler struct {
	ca     *pki.CA
	caPEM  []byte
	creds  []credential
	config []byte
	log    *slog.Logger
}

// credential holds SHA-256 digests so the comparison takes the same time
// whatever the length of the presented values.
type credential struct {
	user, password [sha256.Size]byte
}

// NewHandler loads the CA and prepares the responses.
func NewHandler(cfg HandlerConfig) (*Handler, error) {
	ca, err := pki.LoadCA(cfg.CACertFile, cfg.CAKeyFile)
	if err != nil {
		return nil, fmt.Errorf("join endpoints: %w", err)
	}
	h := &Handler{ca: ca, caPEM: ca.CertPEM(), log: cfg.Log}
	if h.log == nil {
		h.log = slog.Default()
	}
	for _, t := range cfg.Tokens {
		if t.Username == "" || t.Password == "" {
			return nil, errors.New("join endpoints: every accepted token needs a user name and a password")
		}
		h.creds = append(h.creds, credential{user: sha256.Sum256([]byte(t.Username)), password: sha256.Sum256([]byte(t.Password))})
	}
	if len(h.creds) == 0 {
		return nil, errors.New("join endpoints: no token to accept")
	}
	if h.config, err = json.Marshal(cfg.Agent); err != nil {
		return nil, fmt.Errorf("join endpoints: encode agent config: %w", err)
	}
	return h, nil
}

// Owns reports whether path belongs to the join endpoints (and must not be
// passed to the apiserver).
func Owns(path string) bool {
	return path == PathCACerts || strings.HasPrefix(path, pathPrefix) || path == strings.TrimSuffix(pathPrefix, "/")
}

// Wrap returns a handler that serves the join endpoints and passes every
// other request to next unchanged (in k3lite: the apiserver's whole
// handler chain, so the join endpoints sit before Kubernetes
// authentication, as K3s's do).
func (h *Handler) Wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if Owns(r.URL.Path) {
			h.ServeHTTP(w, r)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	path := r.URL.Path
	switch {
	case path == PathCACerts:
		if !allowMethod(w, r, http.MethodGet) {
			return
		}
		w.Header().Set("Content-Type", "application/x-pem-file")
		_, _ = w.Write(h.caPEM)
	case path == PathConfig:
		if !allowMethod(w, r, http.MethodGet) || !h.authenticate(w, r) {
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(h.config)
	case strings.HasPrefix(path, PathCerts):
		kind := strings.TrimPrefix(path, PathCerts)
		if !slices.Contains(Kinds(), kind) {
			// Unknown kinds are reported before authentication: the list of
			// kinds is no secret and the answer does not depend on the token.
			httpError(w, http.StatusNotFound, fmt.Sprintf("unknown certificate kind %q: want one of %s", kind, strings.Join(Kinds(), ", ")))
			return
		}
		if !allowMethod(w, r, http.MethodPost) || !h.authenticate(w, r) {
			return
		}
		h.sign(w, r, kind)
	default:
		httpError(w, http.StatusNotFound, fmt.Sprintf("no join endpoint %s: this server serves %s, %s and %s<kind>", path, PathCACerts, PathConfig, PathCerts))
	}
}

func allowMethod(w http.ResponseWriter, r *http.Request, method string) bool {
	if r.Method == method || (method == http.MethodGet && r.Method == http.MethodHead) {
		return true
	}
	w.Header().Set("Allow", method)
	httpError(w, http.StatusMethodNotAllowed, fmt.Sprintf("%s %s: use %s", r.Method, r.URL.Path, method))
	return false
}

// authenticate checks HTTP Basic credentials against every accepted token
// without stopping at the first match (constant time per token).
func (h *Handler) authenticate(w http.ResponseWriter, r *http.Request) bool {
	user, pass, ok := r.BasicAuth()
	match := 0
	if ok {
		u, p := sha256.Sum256([]byte(user)), sha256.Sum256([]byte(pass))
		for _, c := range h.creds {
			match |= subtle.ConstantTimeCompare(u[:], c.user[:]) & subtle.ConstantTimeCompare(p[:], c.password[:])
		}
	}
	if match == 1 {
		return true
	}
	h.log.Warn("join request refused: token does not match", "path", r.URL.Path, "remote", r.RemoteAddr, "credentialsGiven", ok)
	w.Header().Set("WWW-Authenticate", `Basic realm="k3lite"`)
	httpError(w, http.StatusUnauthorized, "the token does not match this server: use the K10... token from the server's node-token file (<data-dir>/server/node-token)")
	return false
}

func (h *Handler) sign(w http.ResponseWriter, r *http.Request, kind string) {
	var req CertRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxRequestBody))
	if err := dec.Decode(&req); err != nil {
		httpError(w, http.StatusBadRequest, fmt.Sprintf("%s certificate request: the body is not a JSON CertRequest: %v", kind, err))
		return
	}
	sr, err := subjectFor(kind, &req)
	if err != nil {
		httpError(w, http.StatusBadRequest, fmt.Sprintf("%s certificate request: %v", kind, err))
		return
	}
	certPEM, err := h.ca.SignCSR(sr)
	switch {
	case errors.Is(err, pki.ErrBadCSR):
		httpError(w, http.StatusBadRequest, fmt.Sprintf("%s certificate request: %v", kind, err))
		return
	case err != nil:
		h.log.Error("signing a certificate failed", "kind", kind, "node", req.NodeName, "err", err)
		httpError(w, http.StatusInternalServerError, fmt.Sprintf("%s certificate: signing failed on the server (see its log)", kind))
		return
	}
	h.log.Info("signed certificate", "kind", kind, "subject", sr.CommonName, "node", req.NodeName, "remote", r.RemoteAddr)
	resp := CertResponse{Certificate: string(certPEM), ClientCA: string(h.caPEM), ServerCA: string(h.caPEM)}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(resp)
}

// subjectFor decides the subject and SANs of a certificate of kind: the
// server sets them, whatever the CSR says.
func subjectFor(kind string, req *CertRequest) (pki.SignRequest, error) {
	sr := pki.SignRequest{CSRPEM: []byte(req.CSR), Usage: pki.UsageClient}
	needNode := func() error {
		if req.NodeName == "" {
			return errors.New("nodeName is required")
		}
		if errs := validation.IsDNS1123Subdomain(req.NodeName); len(errs) > 0 {
			return fmt.Errorf("nodeName %q is not a valid node name: %s", req.NodeName, strings.Join(errs, "; "))
		}
		return nil
	}
	switch kind {
	case CertKubeletClient:
		if err := needNode(); err != nil {
			return sr, err
		}
		sr.CommonName, sr.Organizations = NodeUserPrefix+req.NodeName, []string{NodesGroup}
	case CertKubeletServing:
		if err := needNode(); err != nil {
			return sr, err
		}
		sr.CommonName, sr.Organizations = NodeUserPrefix+req.NodeName, []string{NodesGroup}
		sr.Usage = pki.UsageServing
		// The node name is always a SAN: the apiserver may reach the
		// kubelet by Hostname.
		dns := []string{strings.ToLower(req.NodeName)}
		for _, d := range req.DNSNames {
			d = strings.ToLower(strings.TrimSpace(d))
			if errs := validation.IsDNS1123Subdomain(d); len(errs) > 0 {
				return sr, fmt.Errorf("dnsNames: %q is not a DNS name: %s", d, strings.Join(errs, "; "))
			}
			if !slices.Contains(dns, d) {
				dns = append(dns, d)
			}
		}
		var ips []net.IP
		for _, s := range req.IPs {
			ip := net.ParseIP(strings.TrimSpace(s))
			if ip == nil {
				return sr, fmt.Errorf("ips: %q is not an IP address", s)
			}
			if !slices.ContainsFunc(ips, ip.Equal) {
				ips = append(ips, ip)
			}
		}
		sr.IPs, sr.DNSNames = ips, dns
	case CertKubeProxy:
		sr.CommonName = KubeProxyCN
	case CertAgentController:
		sr.CommonName = AgentControllerCN
	default:
		return sr, fmt.Errorf("unknown certificate kind %q", kind)
	}
	return sr, nil
}

// httpError writes msg as one line of plain text (the client reports the
// first line of an error body).
func httpError(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	_, _ = fmt.Fprintln(w, strings.ReplaceAll(msg, "\n", " "))
}
