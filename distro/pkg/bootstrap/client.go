package bootstrap

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/distrobench/distrobench/distro/pkg/token"
)

// Errors a caller may want to tell apart. Both are permanent: retrying
// with the same --server and token cannot succeed.
var (
	// ErrCAMismatch: the CA served at /cacerts does not hash to the
	// token's CA hash.
	ErrCAMismatch = errors.New("the server's CA does not match the token's hash: wrong --server or token")
	// ErrUnauthorized: the server answered 401 to the token's credentials.
	ErrUnauthorized = errors.New("server refused the token (401): check --token")
)

// maxBody bounds what the client reads from any response: a CA bundle,
// a certificate or the agent config are a few KiB.
const maxBody = 1 << 20

// Client talks to a k3lite server's join endpoints. Create it with
// NewClient, which pins the server's CA; every later request trusts only
// that CA.
type Client struct {
	base     *url.URL
	user     string
	password string
	caPEM    []byte
	http     *http.Client
}

// NewClient fetches <serverURL>/cacerts without verifying TLS, checks that
// the SHA-256 of the body equals the token's CA hash and returns a client
// that trusts only that CA from then on. A bare token (no CA hash) trusts
// the first CA it is served, with a warning, as K3s does.
//
// The credentials are the token's user and password (user "node" for a
// bare token). Errors never contain the token.
func NewClient(ctx context.Context, serverURL string, tok token.Token, log *slog.Logger) (*Client, error) {
	base, err := url.Parse(serverURL)
	if err != nil || base.Scheme != "https" || base.Host == "" {
		return nil, fmt.Errorf("--server %q: want https://HOST:PORT", serverURL)
	}
	base.Path = strings.TrimSuffix(base.Path, "/")
	user := tok.Username
	if user == "" {
		user = token.NodeUser
	}
	c := &Client{base: base, user: user, password: tok.Password}

	// The first request cannot verify the server: the token's hash is what
	// authenticates the CA it returns.
	insecure := &http.Client{
		Timeout: 30 * time.Second,
		Transport: &http.Transport{
			Proxy:           nil,
			TLSClientConfig: &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS12}, //nolint:gosec // pinned by hash below
		},
	}
	body, err := c.do(ctx, insecure, http.MethodGet, PathCACerts, nil, false)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(body)
	got := hex.EncodeToString(sum[:])
	switch {
	case tok.CAHash == "":
		log.Warn("the token carries no CA hash: trusting the CA the server sent without verifying it (use the K10... token from the server's node-token file to pin it)", "server", base.Redacted(), "caHash", got)
	case !strings.EqualFold(got, tok.CAHash):
		return nil, ErrCAMismatch
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(body) {
		return nil, fmt.Errorf("GET %s%s: the body is not a PEM CA certificate (is %s a k3lite server?)", base.Redacted(), PathCACerts, base.Host)
	}
	c.caPEM = body
	c.http = &http.Client{
		Timeout: 30 * time.Second,
		Transport: &http.Transport{
			Proxy:           nil,
			TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12},
		},
	}
	return c, nil
}

// CACerts returns the verified CA bundle (PEM) served at /cacerts.
func (c *Client) CACerts() []byte { return bytes.Clone(c.caPEM) }

// Config returns the cluster settings an agent needs.
func (c *Client) Config(ctx context.Context) (*AgentConfig, error) {
	body, err := c.do(ctx, c.http, http.MethodGet, PathConfig, nil, true)
	if err != nil {
		return nil, err
	}
	var cfg AgentConfig
	if err := json.Unmarshal(body, &cfg); err != nil {
		return nil, fmt.Errorf("GET %s: decode agent config: %w", PathConfig, err)
	}
	return &cfg, nil
}

// Sign asks the server to sign req's CSR as a certificate of the given kind
// (one of the Cert* constants).
func (c *Client) Sign(ctx context.Context, kind string, req CertRequest) (*CertResponse, error) {
	switch kind {
	case CertKubeletClient, CertKubeletServing, CertKubeProxy, CertAgentController:
	default:
		return nil, fmt.Errorf("unknown certificate kind %q", kind)
	}
	payload, err := json.Marshal(req)
	if err != nil {
		return nil, fmt.Errorf("encode %s certificate request: %w", kind, err)
	}
	body, err := c.do(ctx, c.http, http.MethodPost, PathCerts+kind, payload, true)
	if err != nil {
		return nil, err
	}
	var resp CertResponse
	if err := json.Unmarshal(body, &resp); err != nil {
		return nil, fmt.Errorf("POST %s%s: decode response: %w", PathCerts, kind, err)
	}
	if resp.Certificate == "" {
		return nil, fmt.Errorf("POST %s%s: the server returned no certificate", PathCerts, kind)
	}
	return &resp, nil
}

// StatusError is a non-2xx answer other than 401.
type StatusError struct {
	Method, Path string
	Code         int
	Message      string
}

func (e *StatusError) Error() string {
	msg := strings.TrimSpace(e.Message)
	if msg == "" {
		msg = http.StatusText(e.Code)
	}
	return fmt.Sprintf("%s %s: server answered %d: %s", e.Method, e.Path, e.Code, msg)
}

// Temporary reports whether retrying may help (the server is starting or
// overloaded).
func (e *StatusError) Temporary() bool {
	return e.Code >= 500 || e.Code == http.StatusTooManyRequests
}

func (c *Client) do(ctx context.Context, hc *http.Client, method, path string, payload []byte, auth bool) ([]byte, error) {
	u := *c.base
	u.Path += path
	var body io.Reader
	if payload != nil {
		body = bytes.NewReader(payload)
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), body)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	if payload != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if auth {
		req.SetBasicAuth(c.user, c.password)
	}
	resp, err := hc.Do(req)
	if err != nil {
		// url.Error repeats the URL, which holds no secret (credentials
		// travel in a header).
		return nil, &UnreachableError{Server: c.base.Redacted(), Err: err}
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return nil, fmt.Errorf("%s %s: read response: %w", method, path, err)
	}
	switch {
	case resp.StatusCode == http.StatusUnauthorized:
		return nil, ErrUnauthorized
	case resp.StatusCode < 200 || resp.StatusCode > 299:
		return nil, &StatusError{Method: method, Path: path, Code: resp.StatusCode, Message: firstLine(data)}
	}
	return data, nil
}

// UnreachableError: the request did not get an HTTP answer.
type UnreachableError struct {
	Server string
	Err    error
}

func (e *UnreachableError) Error() string {
	return fmt.Sprintf("server %s unreachable: %v (is the server running and --server right?)", e.Server, e.Err)
}
func (e *UnreachableError) Unwrap() error { return e.Err }

// Retryable reports whether err may go away by itself (the server is not
// up yet, restarting or overloaded). A refused token or a CA mismatch is
// never retryable.
func Retryable(err error) bool {
	if err == nil || errors.Is(err, ErrUnauthorized) || errors.Is(err, ErrCAMismatch) {
		return false
	}
	var se *StatusError
	if errors.As(err, &se) {
		return se.Temporary()
	}
	var ue *UnreachableError
	if errors.As(err, &ue) {
		var certErr *tls.CertificateVerificationError
		// A certificate that does not verify against the pinned CA will
		// not verify on the next try either.
		return !errors.As(err, &certErr)
	}
	return false
}

func firstLine(b []byte) string {
	s := string(b)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	return s
}
