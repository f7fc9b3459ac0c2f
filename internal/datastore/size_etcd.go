package datastore

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/distrobench/distrobench/internal/datastore/dstype"
	"github.com/distrobench/distrobench/internal/redact"
)

// Why not go.etcd.io/etcd/client/v3: it is not in the harness's module
// graph and would bring gRPC, etcd's API protos and zap into a harness that
// must stay quick to build for ARM boards. etcd answers the same
// Maintenance.Status RPC over HTTP on its client port through its gRPC
// gateway (POST /v3/maintenance/status, what `etcdctl endpoint status`
// shows), and its /metrics carries the same two figures as gauges; both
// need only net/http and the client certificates. The status comes first;
// /metrics where the gateway fails (see etcdSize), as it does on an etcd
// that demands client certificates, such as the embedded one.

// sizeRequestTimeout bounds each request to one etcd endpoint.
const sizeRequestTimeout = 10 * time.Second

// embeddedEtcdURL is where K3s's and k3lite's embedded etcd (--cluster-init)
// serves clients: loopback, port 2379, TLS with client certificates.
const embeddedEtcdURL = "https://127.0.0.1:2379"

// size of an external etcd: the endpoint's URLs, tried in turn (members of
// one cluster hold the same data). No client certificates: the harness
// does not take any for a user's etcd, so one that demands them is
// reported as not measured.
func (etcdDriver) size(ctx context.Context, t SizeTarget) (Sizes, error) {
	if t.Endpoint == "" {
		return Sizes{}, errors.New("no endpoint given")
	}
	return etcdSize(ctx, etcdHTTPClient(nil, t.Dial), dstype.Parts(dstype.Etcd, t.Endpoint))
}

// embeddedEtcdSize asks the etcd inside the server, with the client
// certificate the server's own apiserver uses.
func embeddedEtcdSize(ctx context.Context, t SizeTarget) (Sizes, error) {
	cfg, err := embeddedEtcdTLS(t.ServerDataDir)
	if err != nil {
		return Sizes{}, err
	}
	return etcdSize(ctx, etcdHTTPClient(cfg, t.Dial), []string{embeddedEtcdURL})
}

// etcdClientFiles are where a server keeps the certificate authority, client
// certificate and key for its embedded etcd, relative to <data-dir>/server/tls.
var etcdClientFiles = []struct{ layout, ca, cert, key string }{
	// k3lite (distro/pkg/server/run.go etcdCerts): the cluster CA and the
	// apiserver's kubelet-client certificate.
	{"k3lite", "ca.crt", "client-kube-apiserver-kubelet.crt", "client-kube-apiserver-kubelet.key"},
	// K3s: a CA and client certificate of etcd's own.
	{"k3s", "etcd/server-ca.crt", "etcd/client.crt", "etcd/client.key"},
}

// embeddedEtcdTLS loads the first layout of etcdClientFiles whose files all
// exist under dataDir.
func embeddedEtcdTLS(dataDir string) (*tls.Config, error) {
	if dataDir == "" {
		return nil, errors.New("the server's data directory is unknown, so are the embedded etcd's client certificates")
	}
	dir := filepath.Join(dataDir, "server", "tls")
	var tried []string
	for _, l := range etcdClientFiles {
		ca, cert, key := filepath.Join(dir, l.ca), filepath.Join(dir, l.cert), filepath.Join(dir, l.key)
		if !allExist(ca, cert, key) {
			tried = append(tried, l.layout+" ("+l.cert+")")
			continue
		}
		pem, err := os.ReadFile(ca)
		if err != nil {
			return nil, fmt.Errorf("embedded etcd CA: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("embedded etcd CA %s holds no PEM certificate", ca)
		}
		pair, err := tls.LoadX509KeyPair(cert, key)
		if err != nil {
			return nil, fmt.Errorf("embedded etcd client certificate: %w", err)
		}
		return &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12}, nil
	}
	return nil, fmt.Errorf("no embedded etcd client certificate under %s: looked for the %s layouts", dir, strings.Join(tried, " and "))
}

func allExist(paths ...string) bool {
	for _, p := range paths {
		if _, err := os.Stat(p); err != nil {
			return false
		}
	}
	return true
}

// etcdHTTPClient talks to etcd's client port with cfg (nil: plain HTTP or
// the system roots) over dial (nil: this network namespace).
func etcdHTTPClient(cfg *tls.Config, dial func(ctx context.Context, network, addr string) (net.Conn, error)) *http.Client {
	tr := &http.Transport{TLSClientConfig: cfg, DialContext: dial, DisableKeepAlives: true}
	if dial == nil {
		tr.DialContext = (&net.Dialer{Timeout: DialTimeout}).DialContext
	}
	return &http.Client{Transport: tr}
}

// etcdSize returns the first answer of the endpoints: the gateway's
// maintenance status, or, where etcd answers it with an HTTP error, the
// /metrics gauges. The gateway answers 404 when it is off
// (--enable-grpc-gateway=false), and 503 "bad certificate" when etcd
// demands client certificates (K3s's and k3lite's embedded etcd): the
// gateway dials etcd's gRPC port itself, without one.
func etcdSize(ctx context.Context, c *http.Client, endpoints []string) (Sizes, error) {
	var errs []error
	for _, ep := range endpoints {
		base := strings.TrimRight(strings.TrimSpace(ep), "/")
		s, err := etcdStatus(ctx, c, base)
		var he *httpStatusError
		if errors.As(err, &he) {
			var merr error
			if s, merr = etcdMetrics(ctx, c, base); merr != nil {
				err = errors.Join(err, merr)
			} else {
				err = nil
			}
		}
		if err == nil {
			return s, nil
		}
		errs = append(errs, err)
	}
	return Sizes{}, errors.Join(errs...)
}

// httpStatusError is an answer other than 200 OK.
type httpStatusError struct {
	method, url, status, body string
}

func (e *httpStatusError) Error() string {
	return strings.TrimSpace(fmt.Sprintf("%s %s: %s %s", e.method, e.url, e.status, e.body))
}

// etcdStatus POSTs to the gateway's maintenance status. The gateway writes
// int64 fields as JSON strings ("dbSize":"20480"); numbers are accepted too.
// dbSizeInUse exists since etcd 3.4.
func etcdStatus(ctx context.Context, c *http.Client, base string) (Sizes, error) {
	body, err := etcdDo(ctx, c, http.MethodPost, base+"/v3/maintenance/status", "{}")
	if err != nil {
		return Sizes{}, err
	}
	var st struct {
		DBSize      json.RawMessage `json:"dbSize"`
		DBSizeInUse json.RawMessage `json:"dbSizeInUse"`
	}
	if err := json.Unmarshal(body, &st); err != nil {
		return Sizes{}, fmt.Errorf("etcd status from %s: %w", redact.Endpoint(base), err)
	}
	total, err := jsonInt(st.DBSize)
	if err != nil || total <= 0 {
		return Sizes{}, fmt.Errorf("etcd status from %s has no dbSize (%s)", redact.Endpoint(base), truncate(body))
	}
	inUse := int64(-1)
	if v, err := jsonInt(st.DBSizeInUse); err == nil {
		inUse = v
	}
	return Sizes{Bytes: total, InUse: inUse, Method: "etcd maintenance status"}, nil
}

// jsonInt reads a JSON integer written as a number or a string.
func jsonInt(raw json.RawMessage) (int64, error) {
	s := strings.Trim(string(raw), `"`)
	if s == "" || s == "null" {
		return 0, errors.New("absent")
	}
	return strconv.ParseInt(s, 10, 64)
}

// Gauges in etcd's /metrics equal to the status's dbSize and dbSizeInUse.
const (
	etcdMetricDBSize      = "etcd_mvcc_db_total_size_in_bytes"
	etcdMetricDBSizeInUse = "etcd_mvcc_db_total_size_in_use_in_bytes"
)

// etcdMetrics reads the two gauges from etcd's Prometheus text /metrics.
func etcdMetrics(ctx context.Context, c *http.Client, base string) (Sizes, error) {
	body, err := etcdDo(ctx, c, http.MethodGet, base+"/metrics", "")
	if err != nil {
		return Sizes{}, err
	}
	vals := map[string]int64{}
	sc := bufio.NewScanner(strings.NewReader(string(body)))
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		name, val, ok := strings.Cut(sc.Text(), " ")
		if !ok || (name != etcdMetricDBSize && name != etcdMetricDBSizeInUse) {
			continue
		}
		fields := strings.Fields(val)
		if len(fields) == 0 {
			continue
		}
		f, err := strconv.ParseFloat(fields[0], 64)
		if err != nil {
			return Sizes{}, fmt.Errorf("etcd metrics from %s: %s: %w", redact.Endpoint(base), name, err)
		}
		vals[name] = int64(f)
	}
	total, ok := vals[etcdMetricDBSize]
	if !ok || total <= 0 {
		return Sizes{}, fmt.Errorf("etcd metrics from %s have no %s", redact.Endpoint(base), etcdMetricDBSize)
	}
	inUse, ok := vals[etcdMetricDBSizeInUse]
	if !ok {
		inUse = -1
	}
	return Sizes{Bytes: total, InUse: inUse, Method: "etcd metrics"}, nil
}

// etcdDo sends one request bounded by sizeRequestTimeout and returns the
// body of a 200 answer (at most 4 MiB).
func etcdDo(ctx context.Context, c *http.Client, method, url, body string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, sizeRequestTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, url, strings.NewReader(body))
	if err != nil {
		return nil, err
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, err // net/http strips a URL's password from its errors
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	url = redact.Endpoint(url)
	switch {
	case err != nil:
		return nil, fmt.Errorf("%s %s: %w", method, url, err)
	case resp.StatusCode != http.StatusOK:
		return nil, &httpStatusError{method: method, url: url, status: resp.Status, body: truncate(b)}
	}
	return b, nil
}

// truncate keeps an answer short enough for an error message.
func truncate(b []byte) string {
	s := strings.TrimSpace(string(b))
	if len(s) > 200 {
		return s[:200] + "..."
	}
	return s
}
