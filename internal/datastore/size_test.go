package datastore

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestSqlitePath(t *testing.T) {
	for _, c := range []struct{ endpoint, dataDir, want, wantErr string }{
		{"", "/srv/k3s", "/srv/k3s/server/db/state.db", ""},
		{"sqlite://", "/srv/k3s", "/srv/k3s/server/db/state.db", ""},
		{"sqlite:///var/lib/db/state.db?_journal_mode=WAL", "/srv/k3s", "/var/lib/db/state.db", ""},
		{"SQLITE:///x.db", "", "/x.db", ""},
		{"sqlite://rel/state.db", "/srv/k3s", "", "relative to the server's working directory"},
		{"", "", "", "data directory is unknown"},
		{"mysql://u:p@tcp(h)/db", "/srv", "", "not an sqlite:// endpoint"},
	} {
		got, err := sqlitePath(c.endpoint, c.dataDir)
		if c.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), c.wantErr) {
				t.Errorf("sqlitePath(%q, %q) = %q, %v; want an error containing %q", c.endpoint, c.dataDir, got, err, c.wantErr)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("sqlitePath(%q, %q) = %q, %v; want %q", c.endpoint, c.dataDir, got, err, c.want)
		}
	}
}

func writeSized(t *testing.T, path string, n int) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, make([]byte, n), 0o600); err != nil {
		t.Fatal(err)
	}
}

// The database, its -wal and its -shm count by length; -wal and -shm may be
// absent (closed database); a missing or empty database is not a size.
func TestSQLiteSize(t *testing.T) {
	dataDir := t.TempDir()
	db := filepath.Join(dataDir, "server", "db", "state.db")
	target := SizeTarget{Kind: "sqlite", ServerDataDir: dataDir}

	_, err := Size(context.Background(), target)
	if err == nil || !strings.Contains(err.Error(), db) {
		t.Errorf("Size without state.db: %v, want an error naming %s", err, db)
	}
	writeSized(t, db, 0)
	if _, err := Size(context.Background(), target); err == nil || !strings.Contains(err.Error(), "reports 0 bytes") {
		t.Errorf("Size of an empty state.db: %v, want an error", err)
	}
	writeSized(t, db, 4096)
	if s, err := Size(context.Background(), target); err != nil || s.Bytes != 4096 || s.InUse != -1 || s.Method != "sqlite files" {
		t.Errorf("Size of state.db alone = %+v, %v; want 4096 bytes, no in-use figure", s, err)
	}
	writeSized(t, db+"-wal", 1000)
	writeSized(t, db+"-shm", 32768)
	writeSized(t, filepath.Join(filepath.Dir(db), "other"), 1<<20) // not SQLite's
	if s, err := Size(context.Background(), target); err != nil || s.Bytes != 4096+1000+32768 {
		t.Errorf("Size with -wal and -shm = %+v, %v; want %d", s, err, 4096+1000+32768)
	}
	// A user's sqlite endpoint names the file; the data dir is not used.
	user := filepath.Join(t.TempDir(), "mine.db")
	writeSized(t, user, 8192)
	s, err := Size(context.Background(), SizeTarget{Kind: "sqlite", Endpoint: "sqlite://" + user + "?_journal_mode=WAL", ServerDataDir: dataDir})
	if err != nil || s.Bytes != 8192 {
		t.Errorf("Size of a user's sqlite endpoint = %+v, %v; want 8192", s, err)
	}
}

func TestSizeUnknownDatastore(t *testing.T) {
	if _, err := Size(context.Background(), SizeTarget{Kind: "mongo"}); err == nil || !strings.Contains(err.Error(), `unknown datastore "mongo"`) {
		t.Errorf("Size(mongo) = %v", err)
	}
}

// etcdServer serves the gateway's status (status == "" answers 404, as
// etcd with --enable-grpc-gateway=false) and /metrics.
func etcdServer(status, metrics string) http.Handler {
	code := http.StatusOK
	if status == "" {
		code = http.StatusNotFound
	}
	return etcdServerCode(code, status, metrics)
}

// etcdServerCode answers the status with code and body status.
func etcdServerCode(code int, status, metrics string) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v3/maintenance/status", func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(code)
		fmt.Fprint(w, status)
	})
	mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, metrics) })
	return mux
}

const etcdMetricsText = `# HELP etcd_mvcc_db_total_size_in_bytes Total size of the underlying database physically allocated in bytes.
# TYPE etcd_mvcc_db_total_size_in_bytes gauge
etcd_mvcc_db_total_size_in_bytes 2.097152e+06
# TYPE etcd_mvcc_db_total_size_in_use_in_bytes gauge
etcd_mvcc_db_total_size_in_use_in_bytes 1.2288e+06
etcd_mvcc_db_total_size_in_bytes_other 7
`

// gatewayBadCert is what etcd 3.7's gateway answers (503) when etcd
// demands client certificates: the gateway's own gRPC client has none.
const gatewayBadCert = `{"code":14,"message":"connection error: desc = \"error reading server preface: remote error: tls: bad certificate\""}`

func TestEtcdSizeFromStatusOrMetrics(t *testing.T) {
	for _, c := range []struct {
		name, status, metrics string
		want                  Sizes
	}{
		{"gateway without a client certificate (embedded etcd): metrics", gatewayBadCert, etcdMetricsText,
			Sizes{Bytes: 2097152, InUse: 1228800, Method: "etcd metrics"}},
		{"status as the gateway writes it", `{"header":{"revision":"5"},"version":"3.7.3","dbSize":"20480","dbSizeInUse":"16384","leader":"1"}`, "",
			Sizes{Bytes: 20480, InUse: 16384, Method: "etcd maintenance status"}},
		{"status with numbers", `{"dbSize":20480,"dbSizeInUse":12288}`, "",
			Sizes{Bytes: 20480, InUse: 12288, Method: "etcd maintenance status"}},
		{"status without dbSizeInUse (etcd < 3.4)", `{"dbSize":"20480"}`, "",
			Sizes{Bytes: 20480, InUse: -1, Method: "etcd maintenance status"}},
		{"gateway off: metrics", "", etcdMetricsText,
			Sizes{Bytes: 2097152, InUse: 1228800, Method: "etcd metrics"}},
	} {
		srv := httptest.NewServer(etcdServer(c.status, c.metrics))
		if c.status == gatewayBadCert {
			srv.Config.Handler = etcdServerCode(http.StatusServiceUnavailable, c.status, c.metrics)
		}
		got, err := Size(context.Background(), SizeTarget{Kind: "etcd", Endpoint: srv.URL})
		srv.Close()
		if err != nil || got != c.want {
			t.Errorf("%s: Size = %+v, %v; want %+v", c.name, got, err, c.want)
		}
	}
}

func TestEtcdSizeErrors(t *testing.T) {
	for _, c := range []struct{ name, status, metrics, want string }{
		{"status without dbSize", `{"version":"3.7.3"}`, "", "has no dbSize"},
		{"status not JSON", `<html>`, "", "etcd status from"},
		{"gateway off, metrics without the gauge", "", "process_open_fds 12\n", "have no etcd_mvcc_db_total_size_in_bytes"},
		{"gateway off, both errors shown", "", "process_open_fds 12\n", "/v3/maintenance/status: 404 Not Found"},
	} {
		srv := httptest.NewServer(etcdServer(c.status, c.metrics))
		_, err := Size(context.Background(), SizeTarget{Kind: "etcd", Endpoint: srv.URL})
		srv.Close()
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: Size error = %v, want it to contain %q", c.name, err, c.want)
		}
	}
}

// Members of one cluster are asked in turn: the first that answers counts.
func TestEtcdSizeTriesEachEndpoint(t *testing.T) {
	srv := httptest.NewServer(etcdServer(`{"dbSize":"40960","dbSizeInUse":"32768"}`, ""))
	defer srv.Close()
	s, err := Size(context.Background(), SizeTarget{Kind: "etcd", Endpoint: "http://127.0.0.1:1, " + srv.URL})
	if err != nil || s.Bytes != 40960 {
		t.Errorf("Size with a dead first member = %+v, %v", s, err)
	}
	_, err = Size(context.Background(), SizeTarget{Kind: "etcd", Endpoint: "http://127.0.0.1:1"})
	if err == nil || !strings.Contains(err.Error(), "127.0.0.1:1") || !strings.Contains(err.Error(), "size of datastore etcd at http://127.0.0.1:1") {
		t.Errorf("Size of a dead etcd = %v", err)
	}
}

// Unreachable SQL datastores fail with an error that names the server but
// never the password; an etcd URL's password is redacted too.
func TestSizeErrorsHoldNoPassword(t *testing.T) {
	for _, c := range []struct{ kind, endpoint string }{
		{"mysql", "mysql://kine:hunter2@tcp(127.0.0.1:1)/kine"},
		{"postgres", "postgres://kine:hunter2@127.0.0.1:1/kine?sslmode=disable"},
		{"etcd", "http://root:hunter2@127.0.0.1:1"},
		{"postgres", "postgres://kine:hunter2@127.0.0.1:1/%zz"},
		{"mysql", "mysql://kine:hunter2@tcp(127.0.0.1:1)"},
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		_, err := Size(ctx, SizeTarget{Kind: c.kind, Endpoint: c.endpoint})
		cancel()
		if err == nil || strings.Contains(err.Error(), "hunter2") || !strings.Contains(err.Error(), "size of datastore "+c.kind) {
			t.Errorf("Size(%s) error = %v: want an error without the password", c.kind, err)
		}
	}
	if err := scrub(errors.New("dial kine:hunter2@h failed"), "hunter2"); err.Error() != "dial kine:REDACTED@h failed" {
		t.Errorf("scrub = %v", err)
	}
	inner := errors.New("x")
	if err := scrub(inner, "hunter2"); !errors.Is(err, inner) || err.Error() != "x" {
		t.Errorf("scrub without the secret changed the error: %v", err)
	}
}

// Without a database in the endpoint kine uses "kubernetes"; so does Size.
func TestSQLSizeDefaultDatabase(t *testing.T) {
	for ep, want := range map[string]string{
		"mysql://kine:pw@tcp(127.0.0.1:3306)/":     "kubernetes",
		"mysql://kine:pw@tcp(127.0.0.1:3306)/mine": "mine",
	} {
		cfg, err := mysqlSizeConfig(ep)
		if err != nil || cfg.DBName != want || cfg.Passwd != "pw" || cfg.Addr != "127.0.0.1:3306" {
			t.Errorf("mysqlSizeConfig(%s) = %+v, %v; want database %s", ep, cfg, err, want)
		}
	}
	for ep, want := range map[string]string{
		"postgres://kine:pw@127.0.0.1:5432?sslmode=disable":        "postgres://kine:pw@127.0.0.1:5432/kubernetes?sslmode=disable",
		"postgres://kine:pw@127.0.0.1:5432/?sslmode=disable":       "postgres://kine:pw@127.0.0.1:5432/kubernetes?sslmode=disable",
		"postgresql://kine:pw@127.0.0.1:5432/mine?sslmode=disable": "postgresql://kine:pw@127.0.0.1:5432/mine?sslmode=disable",
	} {
		if got, err := postgresSizeURL(ep); err != nil || got != want {
			t.Errorf("postgresSizeURL(%s) = %q, %v; want %q", ep, got, err, want)
		}
	}
	for _, kind := range []string{"mysql", "postgres", "etcd"} {
		if _, err := Size(context.Background(), SizeTarget{Kind: kind}); err == nil || !strings.Contains(err.Error(), "no endpoint given") {
			t.Errorf("Size(%s) without an endpoint = %v", kind, err)
		}
	}
}

// pki is a CA with a server certificate for 127.0.0.1 and a client
// certificate, as PEM.
type pki struct {
	caPEM, serverCert, serverKey, clientCert, clientKey []byte
	pool                                                *x509.CertPool
}

func newPKI(t *testing.T) pki {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test-ca"}, NotBefore: now.Add(-time.Hour),
		NotAfter: now.Add(time.Hour), IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	leaf := func(serial int64, usage x509.ExtKeyUsage, ips []net.IP) (certPEM, keyPEM []byte) {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: "leaf"}, NotBefore: now.Add(-time.Hour),
			NotAfter: now.Add(time.Hour), ExtKeyUsage: []x509.ExtKeyUsage{usage}, IPAddresses: ips, KeyUsage: x509.KeyUsageDigitalSignature}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		kder, err := x509.MarshalECPrivateKey(key)
		if err != nil {
			t.Fatal(err)
		}
		return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})
	}
	p := pki{caPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), pool: x509.NewCertPool()}
	p.pool.AddCert(ca)
	p.serverCert, p.serverKey = leaf(2, x509.ExtKeyUsageServerAuth, []net.IP{net.IPv4(127, 0, 0, 1)})
	p.clientCert, p.clientKey = leaf(3, x509.ExtKeyUsageClientAuth, nil)
	return p
}

// The embedded etcd is asked at https://127.0.0.1:2379 with the client
// certificate from the server's data dir (k3lite's and K3s's layouts),
// through the dialer of the server's host. Here the dialer leads to a
// TLS server that, like etcd, refuses clients without a certificate.
func TestEmbeddedEtcdSize(t *testing.T) {
	p := newPKI(t)
	// As k3lite's etcd 3.7 answers: the gateway fails, /metrics serves.
	srv := httptest.NewUnstartedServer(etcdServerCode(http.StatusServiceUnavailable, gatewayBadCert, etcdMetricsText))
	pair, err := tls.X509KeyPair(p.serverCert, p.serverKey)
	if err != nil {
		t.Fatal(err)
	}
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{pair}, ClientCAs: p.pool, ClientAuth: tls.RequireAndVerifyClientCert}
	srv.StartTLS()
	defer srv.Close()
	var dialed []string
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		dialed = append(dialed, addr)
		return (&net.Dialer{}).DialContext(ctx, network, srv.Listener.Addr().String())
	}

	for _, l := range etcdClientFiles {
		dataDir := t.TempDir()
		tlsDir := filepath.Join(dataDir, "server", "tls")
		for name, b := range map[string][]byte{l.ca: p.caPEM, l.cert: p.clientCert, l.key: p.clientKey} {
			writeFile(t, filepath.Join(tlsDir, name), b)
		}
		dialed = nil
		s, err := Size(context.Background(), SizeTarget{Kind: "embedded-etcd", ServerDataDir: dataDir, Dial: dial})
		if err != nil || s != (Sizes{Bytes: 2097152, InUse: 1228800, Method: "etcd metrics"}) {
			t.Errorf("%s layout: Size = %+v, %v", l.layout, s, err)
		}
		if len(dialed) == 0 || dialed[0] != "127.0.0.1:2379" {
			t.Errorf("%s layout: dialed %v, want 127.0.0.1:2379", l.layout, dialed)
		}
	}

	// Without the client certificate the server refuses: not measured.
	dataDir := t.TempDir()
	writeFile(t, filepath.Join(dataDir, "server", "tls", "ca.crt"), p.caPEM)
	_, err = Size(context.Background(), SizeTarget{Kind: "embedded-etcd", ServerDataDir: dataDir, Dial: dial})
	if err == nil || !strings.Contains(err.Error(), "no embedded etcd client certificate under "+filepath.Join(dataDir, "server", "tls")) ||
		!strings.Contains(err.Error(), "k3lite") || !strings.Contains(err.Error(), "k3s") {
		t.Errorf("Size without client certificates = %v", err)
	}
	// A client certificate another CA signed is refused by the server.
	other := newPKI(t)
	writeFile(t, filepath.Join(dataDir, "server", "tls", "client-kube-apiserver-kubelet.crt"), other.clientCert)
	writeFile(t, filepath.Join(dataDir, "server", "tls", "client-kube-apiserver-kubelet.key"), other.clientKey)
	if _, err := Size(context.Background(), SizeTarget{Kind: "embedded-etcd", ServerDataDir: dataDir, Dial: dial}); err == nil {
		t.Error("Size with a client certificate of another CA succeeded")
	}
}

func writeFile(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}
