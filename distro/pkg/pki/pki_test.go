package pki

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"k8s.io/client-go/tools/clientcmd"
)

var (
	nodeIP  = net.ParseIP("192.168.5.10")
	extraIP = net.ParseIP("fd00::10")
)

// baseDir holds one PKI created once (RSA key generation is the slow part);
// tests that modify files work on a copy.
var (
	baseOnce sync.Once
	baseDir  string
	baseErr  error
)

func baseOptions(dir string) Options {
	return Options{Dir: dir, IPs: []net.IP{nodeIP, extraIP}, DNSNames: []string{"node1.example", "API.Example"}}
}

func freshPKI(t *testing.T) (*Bundle, Options) {
	t.Helper()
	baseOnce.Do(func() {
		baseDir, baseErr = os.MkdirTemp("", "pki-base-")
		if baseErr == nil {
			_, baseErr = Ensure(baseOptions(filepath.Join(baseDir, "tls")))
		}
	})
	if baseErr != nil {
		t.Fatalf("Ensure: %v", baseErr)
	}
	dir := filepath.Join(t.TempDir(), "tls")
	if err := os.CopyFS(dir, os.DirFS(filepath.Join(baseDir, "tls"))); err != nil {
		t.Fatal(err)
	}
	// CopyFS does not keep modes exactly; restore what Ensure wrote.
	b := NewBundle(dir)
	for _, f := range allFiles(b) {
		mode := os.FileMode(certMode)
		if strings.HasSuffix(f, ".key") {
			mode = keyMode
		}
		if err := os.Chmod(f, mode); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(dir, dirMode); err != nil {
		t.Fatal(err)
	}
	return b, baseOptions(dir)
}

func TestMain(m *testing.M) {
	code := m.Run()
	if baseDir != "" {
		os.RemoveAll(baseDir)
	}
	os.Exit(code)
}

func allFiles(b *Bundle) []string {
	return []string{
		b.CACert, b.CAKey, b.FrontProxyCACert, b.FrontProxyCAKey, b.ServingCert, b.ServingKey,
		b.AdminCert, b.AdminKey, b.ControllerManagerCert, b.ControllerManagerKey, b.SchedulerCert, b.SchedulerKey,
		b.APIServerKubeletClientCert, b.APIServerKubeletClientKey, b.FrontProxyClientCert, b.FrontProxyClientKey,
		b.ServiceAccountKey, b.ServiceAccountPub,
	}
}

func readAll(t *testing.T, b *Bundle) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, f := range allFiles(b) {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		out[f] = string(data)
	}
	return out
}

func loadCert(t *testing.T, file string) *x509.Certificate {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	c, err := parseCertPEM(data)
	if err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	return c
}

func loadCA(t *testing.T, certFile, keyFile string) *authority {
	t.Helper()
	k, err := readKey(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	return &authority{cert: loadCert(t, certFile), key: k}
}

func TestEnsureCreatesEverything(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "server", "tls")
	b, err := Ensure(baseOptions(dir))
	if err != nil {
		t.Fatalf("Ensure: %v", err)
	}
	if *b != *NewBundle(dir) {
		t.Errorf("bundle paths = %+v, want %+v", *b, *NewBundle(dir))
	}
	for _, f := range allFiles(b) {
		if filepath.Dir(f) != dir {
			t.Errorf("%s is not directly under %s", f, dir)
		}
	}

	now := time.Now()
	ca := loadCert(t, b.CACert)
	fp := loadCert(t, b.FrontProxyCACert)
	for _, c := range []*x509.Certificate{ca, fp} {
		if !c.IsCA || c.KeyUsage&x509.KeyUsageCertSign == 0 {
			t.Errorf("%s: not a CA (IsCA=%v usage=%v)", c.Subject.CommonName, c.IsCA, c.KeyUsage)
		}
		if c.NotAfter.Before(now.Add(CAValidity-24*time.Hour)) || c.NotAfter.After(now.Add(CAValidity+time.Hour)) {
			t.Errorf("%s: NotAfter %v, want about now+10y", c.Subject.CommonName, c.NotAfter)
		}
		if c.NotBefore.After(now) {
			t.Errorf("%s: NotBefore %v is in the future", c.Subject.CommonName, c.NotBefore)
		}
	}
	if ca.Subject.CommonName == fp.Subject.CommonName || publicKeysEqual(ca.PublicKey, fp.PublicKey) {
		t.Error("cluster CA and front-proxy CA must be distinct")
	}

	roots := x509.NewCertPool()
	roots.AddCert(ca)
	fpRoots := x509.NewCertPool()
	fpRoots.AddCert(fp)

	type want struct {
		cert, key string
		cn        string
		orgs      []string
		roots     *x509.CertPool
		usage     x509.ExtKeyUsage
	}
	for _, w := range []want{
		{b.ServingCert, b.ServingKey, ServingCN, nil, roots, x509.ExtKeyUsageServerAuth},
		{b.AdminCert, b.AdminKey, "system:admin", []string{"system:masters"}, roots, x509.ExtKeyUsageClientAuth},
		{b.ControllerManagerCert, b.ControllerManagerKey, "system:kube-controller-manager", nil, roots, x509.ExtKeyUsageClientAuth},
		{b.SchedulerCert, b.SchedulerKey, "system:kube-scheduler", nil, roots, x509.ExtKeyUsageClientAuth},
		{b.APIServerKubeletClientCert, b.APIServerKubeletClientKey, "kube-apiserver-kubelet-client", []string{"system:masters"}, roots, x509.ExtKeyUsageClientAuth},
		{b.FrontProxyClientCert, b.FrontProxyClientKey, "system:auth-proxy", nil, fpRoots, x509.ExtKeyUsageClientAuth},
	} {
		c := loadCert(t, w.cert)
		if c.Subject.CommonName != w.cn || !slices.Equal(c.Subject.Organization, w.orgs) {
			t.Errorf("%s: subject CN=%q O=%v, want CN=%q O=%v", w.cert, c.Subject.CommonName, c.Subject.Organization, w.cn, w.orgs)
		}
		if c.IsCA {
			t.Errorf("%s: leaf must not be a CA", w.cert)
		}
		if _, err := c.Verify(x509.VerifyOptions{Roots: w.roots, KeyUsages: []x509.ExtKeyUsage{w.usage}}); err != nil {
			t.Errorf("%s does not verify against its CA: %v", w.cert, err)
		}
		// the other CA must not accept it
		other := fpRoots
		if w.roots == fpRoots {
			other = roots
		}
		if _, err := c.Verify(x509.VerifyOptions{Roots: other, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err == nil {
			t.Errorf("%s verifies against the wrong CA", w.cert)
		}
		if c.NotAfter.Before(now.Add(LeafValidity-24*time.Hour)) || c.NotAfter.After(now.Add(LeafValidity+time.Hour)) {
			t.Errorf("%s: NotAfter %v, want about now+1y", w.cert, c.NotAfter)
		}
		key, err := readKey(w.key)
		if err != nil {
			t.Fatalf("%s: %v", w.key, err)
		}
		if !publicKeysEqual(c.PublicKey, key.Public()) {
			t.Errorf("%s does not match %s", w.key, w.cert)
		}
	}

	serving := loadCert(t, b.ServingCert)
	for _, ip := range []string{"127.0.0.1", "::1", "10.43.0.1", "192.168.5.10", "fd00::10"} {
		if !slices.ContainsFunc(serving.IPAddresses, net.ParseIP(ip).Equal) {
			t.Errorf("serving cert lacks IP SAN %s (has %v)", ip, serving.IPAddresses)
		}
	}
	for _, d := range []string{"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local", "node1.example", "api.example"} {
		if err := serving.VerifyHostname(d); err != nil {
			t.Errorf("serving cert: %v", err)
		}
	}
	if err := serving.VerifyHostname("10.43.0.1"); err != nil {
		t.Errorf("serving cert: %v", err)
	}
	if err := serving.VerifyHostname("evil.example"); err == nil {
		t.Error("serving cert accepts a hostname it was not issued for")
	}

	// service-account key pair
	saKey, err := readKey(b.ServiceAccountKey)
	if err != nil {
		t.Fatal(err)
	}
	pubPEM, err := os.ReadFile(b.ServiceAccountPub)
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(pubPEM)
	if blk == nil || blk.Type != "PUBLIC KEY" {
		t.Fatalf("service-account public key is not a PUBLIC KEY PEM: %q", pubPEM)
	}
	pub, err := x509.ParsePKIXPublicKey(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if !publicKeysEqual(pub, saKey.Public()) {
		t.Error("service-account public key does not match the private key")
	}

	// modes
	assertMode(t, dir, dirMode)
	for _, f := range allFiles(b) {
		want := os.FileMode(certMode)
		if strings.HasSuffix(f, ".key") {
			want = keyMode
		}
		assertMode(t, f, want)
	}
	// no temporary files left behind
	entries, _ := os.ReadDir(dir)
	if len(entries) != len(allFiles(b)) {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("directory holds %d entries, want %d: %v", len(entries), len(allFiles(b)), names)
	}
}

func assertMode(t *testing.T, path string, want os.FileMode) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != want {
		t.Errorf("%s: mode %#o, want %#o", path, got, want)
	}
}

func TestEnsureReusesEverything(t *testing.T) {
	b, o := freshPKI(t)
	before := readAll(t, b)
	// loosen a mode: Ensure must repair it without rewriting content
	if err := os.Chmod(b.AdminKey, 0o644); err != nil {
		t.Fatal(err)
	}
	b2, err := Ensure(o)
	if err != nil {
		t.Fatal(err)
	}
	if *b2 != *b {
		t.Errorf("second Ensure returned different paths")
	}
	after := readAll(t, b)
	for f, data := range before {
		if after[f] != data {
			t.Errorf("%s changed on a second Ensure", f)
		}
	}
	assertMode(t, b.AdminKey, keyMode)

	// SANs given in another order/case, or already covered, change nothing.
	o.IPs = []net.IP{extraIP, nodeIP, net.ParseIP("127.0.0.1")}
	o.DNSNames = []string{"api.example", "NODE1.example", "kubernetes"}
	if _, err := Ensure(o); err != nil {
		t.Fatal(err)
	}
	if got := readAll(t, b); got[b.ServingCert] != before[b.ServingCert] {
		t.Error("serving cert regenerated although all SANs were present")
	}
}

func TestEnsureRegeneratesServingCertForNewSAN(t *testing.T) {
	b, o := freshPKI(t)
	before := readAll(t, b)
	o.IPs = append(o.IPs, net.ParseIP("10.0.0.99"))
	o.DNSNames = append(o.DNSNames, "lb.example")
	if _, err := Ensure(o); err != nil {
		t.Fatal(err)
	}
	after := readAll(t, b)
	if after[b.ServingCert] == before[b.ServingCert] {
		t.Fatal("serving cert not regenerated after a SAN was added")
	}
	for f := range before {
		if f != b.ServingCert && after[f] != before[f] {
			t.Errorf("%s changed although only a SAN was added", f)
		}
	}
	c := loadCert(t, b.ServingCert)
	if !slices.ContainsFunc(c.IPAddresses, net.ParseIP("10.0.0.99").Equal) || !slices.Contains(c.DNSNames, "lb.example") {
		t.Errorf("new SANs missing: %v %v", c.IPAddresses, c.DNSNames)
	}
	if !slices.ContainsFunc(c.IPAddresses, nodeIP.Equal) || !slices.Contains(c.DNSNames, "kubernetes.default.svc") {
		t.Errorf("old SANs lost: %v %v", c.IPAddresses, c.DNSNames)
	}
	roots := x509.NewCertPool()
	roots.AddCert(loadCert(t, b.CACert))
	if _, err := c.Verify(x509.VerifyOptions{Roots: roots}); err != nil {
		t.Errorf("regenerated serving cert does not verify against the unchanged CA: %v", err)
	}

	// a custom service IP is a SAN too
	o.ServiceIP = net.ParseIP("10.96.0.1")
	if _, err := Ensure(o); err != nil {
		t.Fatal(err)
	}
	if c := loadCert(t, b.ServingCert); !slices.ContainsFunc(c.IPAddresses, o.ServiceIP.Equal) {
		t.Errorf("service IP 10.96.0.1 missing: %v", c.IPAddresses)
	}
}

func TestEnsureRenewsExpiringLeaves(t *testing.T) {
	b, o := freshPKI(t)
	ca := loadCA(t, b.CACert, b.CAKey)
	now := time.Now()
	rewrite := func(certFile, keyFile string, spec leafSpec, validity time.Duration) string {
		t.Helper()
		key, err := readKey(keyFile)
		if err != nil {
			t.Fatal(err)
		}
		der, err := issue(spec, key.Public(), ca, now, validity)
		if err != nil {
			t.Fatal(err)
		}
		if err := writeFileAtomic(certFile, encodeCert(der), certMode); err != nil {
			t.Fatal(err)
		}
		data, _ := os.ReadFile(certFile)
		return string(data)
	}
	ips, dns := ServingSANs(o)
	expiringAdmin := rewrite(b.AdminCert, b.AdminKey, leafSpec{cn: AdminCN, orgs: []string{MastersGroup}}, 30*24*time.Hour)
	expiringServing := rewrite(b.ServingCert, b.ServingKey, leafSpec{cn: ServingCN, server: true, ips: ips, dns: dns}, 89*24*time.Hour)
	healthySched := rewrite(b.SchedulerCert, b.SchedulerKey, leafSpec{cn: SchedulerCN}, 200*24*time.Hour)
	caBefore := readAll(t, b)[b.CACert]

	if _, err := Ensure(o); err != nil {
		t.Fatal(err)
	}
	after := readAll(t, b)
	if after[b.AdminCert] == expiringAdmin {
		t.Error("admin cert expiring in 30 days was not renewed")
	}
	if after[b.ServingCert] == expiringServing {
		t.Error("serving cert expiring in 89 days was not renewed")
	}
	if after[b.SchedulerCert] != healthySched {
		t.Error("scheduler cert with 200 days left was renewed")
	}
	if after[b.CACert] != caBefore {
		t.Error("CA changed while renewing leaves")
	}
	if c := loadCert(t, b.AdminCert); c.NotAfter.Before(now.Add(LeafValidity - 24*time.Hour)) {
		t.Errorf("renewed admin cert expires %v", c.NotAfter)
	}
}

func TestEnsureReissuesLeafOfOtherCAOrWrongSubject(t *testing.T) {
	b, o := freshPKI(t)
	// admin cert signed by the front-proxy CA, scheduler cert with the wrong CN
	fp := loadCA(t, b.FrontProxyCACert, b.FrontProxyCAKey)
	ca := loadCA(t, b.CACert, b.CAKey)
	now := time.Now()
	adminKey, _ := readKey(b.AdminKey)
	der, err := issue(leafSpec{cn: AdminCN, orgs: []string{MastersGroup}}, adminKey.Public(), fp, now, LeafValidity)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(b.AdminCert, encodeCert(der), certMode); err != nil {
		t.Fatal(err)
	}
	schedKey, _ := readKey(b.SchedulerKey)
	der, err = issue(leafSpec{cn: "someone-else"}, schedKey.Public(), ca, now, LeafValidity)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(b.SchedulerCert, encodeCert(der), certMode); err != nil {
		t.Fatal(err)
	}
	// a garbage controller-manager key: new key and cert
	if err := os.WriteFile(b.ControllerManagerKey, []byte("garbage"), keyMode); err != nil {
		t.Fatal(err)
	}

	if _, err := Ensure(o); err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca.cert)
	for _, f := range []string{b.AdminCert, b.SchedulerCert, b.ControllerManagerCert} {
		c := loadCert(t, f)
		if _, err := c.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
			t.Errorf("%s not reissued by the cluster CA: %v", f, err)
		}
	}
	if c := loadCert(t, b.SchedulerCert); c.Subject.CommonName != SchedulerCN {
		t.Errorf("scheduler CN = %q", c.Subject.CommonName)
	}
	k, err := readKey(b.ControllerManagerKey)
	if err != nil {
		t.Fatalf("controller-manager key not regenerated: %v", err)
	}
	if !publicKeysEqual(loadCert(t, b.ControllerManagerCert).PublicKey, k.Public()) {
		t.Error("controller-manager cert does not match its new key")
	}
}

func TestEnsureRefusesBrokenCA(t *testing.T) {
	t.Run("key missing", func(t *testing.T) {
		b, o := freshPKI(t)
		if err := os.Remove(b.CAKey); err != nil {
			t.Fatal(err)
		}
		_, err := Ensure(o)
		if err == nil || !strings.Contains(err.Error(), b.CAKey) {
			t.Fatalf("Ensure with a missing CA key: err = %v, want an error naming %s", err, b.CAKey)
		}
	})
	t.Run("key of another CA", func(t *testing.T) {
		b, o := freshPKI(t)
		other, _ := os.ReadFile(b.FrontProxyCAKey)
		if err := os.WriteFile(b.CAKey, other, keyMode); err != nil {
			t.Fatal(err)
		}
		if _, err := Ensure(o); err == nil || !strings.Contains(err.Error(), "does not belong") {
			t.Fatalf("err = %v, want a key/cert mismatch error", err)
		}
	})
	t.Run("orphan key from an interrupted start is replaced", func(t *testing.T) {
		dir := t.TempDir()
		b := NewBundle(dir)
		if err := os.WriteFile(b.FrontProxyCAKey, []byte("half-written"), keyMode); err != nil {
			t.Fatal(err)
		}
		if _, err := Ensure(Options{Dir: dir}); err != nil {
			t.Fatal(err)
		}
		loadCA(t, b.FrontProxyCACert, b.FrontProxyCAKey)
	})
	t.Run("no dir", func(t *testing.T) {
		if _, err := Ensure(Options{}); err == nil {
			t.Fatal("Ensure without Dir succeeded")
		}
	})
}

func TestEnsureRegeneratesServiceAccountPub(t *testing.T) {
	b, o := freshPKI(t)
	before := readAll(t, b)
	if err := os.Remove(b.ServiceAccountPub); err != nil {
		t.Fatal(err)
	}
	if _, err := Ensure(o); err != nil {
		t.Fatal(err)
	}
	after := readAll(t, b)
	if after[b.ServiceAccountKey] != before[b.ServiceAccountKey] || after[b.ServiceAccountPub] != before[b.ServiceAccountPub] {
		t.Error("service-account key pair not restored identically")
	}
}

func TestServingSANsDedup(t *testing.T) {
	ips, dns := ServingSANs(Options{IPs: []net.IP{net.ParseIP("127.0.0.1"), nil}, DNSNames: []string{"Kubernetes", " ", "x.example"}})
	if len(ips) != 3 {
		t.Errorf("ips = %v, want 127.0.0.1 ::1 10.43.0.1", ips)
	}
	if !slices.Equal(dns, []string{"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local", "x.example"}) {
		t.Errorf("dns = %v", dns)
	}
}

func TestCAHash(t *testing.T) {
	b, _ := freshPKI(t)
	h, err := CAHash(b.CACert)
	if err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(b.CACert)
	sum := sha256.Sum256(data)
	if want := hex.EncodeToString(sum[:]); h != want {
		t.Errorf("CAHash = %s, want %s", h, want)
	}
	if len(h) != 64 || strings.ToLower(h) != h {
		t.Errorf("CAHash %q is not 64 lowercase hex digits", h)
	}
	if _, err := CAHash(filepath.Join(t.TempDir(), "missing.crt")); err == nil {
		t.Error("CAHash of a missing file succeeded")
	}
}

func TestWriteKubeconfig(t *testing.T) {
	b, _ := freshPKI(t)
	path := filepath.Join(t.TempDir(), "etc", "k3lite", "k3s.yaml")
	const server = "https://127.0.0.1:6443"
	if err := WriteKubeconfig(path, 0o640, server, b.CACert, b.AdminCert, b.AdminKey); err != nil {
		t.Fatal(err)
	}
	assertMode(t, path, 0o640)

	cfg, err := clientcmd.LoadFromFile(path)
	if err != nil {
		t.Fatalf("kubeconfig does not parse: %v", err)
	}
	ctx := cfg.Contexts[cfg.CurrentContext]
	if ctx == nil {
		t.Fatalf("current context %q missing", cfg.CurrentContext)
	}
	cl, user := cfg.Clusters[ctx.Cluster], cfg.AuthInfos[ctx.AuthInfo]
	if cl == nil || user == nil {
		t.Fatalf("context refers to missing cluster/user: %+v", ctx)
	}
	caPEM, _ := os.ReadFile(b.CACert)
	certPEM, _ := os.ReadFile(b.AdminCert)
	keyPEM, _ := os.ReadFile(b.AdminKey)
	if cl.Server != server || string(cl.CertificateAuthorityData) != string(caPEM) {
		t.Errorf("cluster = %s / CA embedded %v", cl.Server, string(cl.CertificateAuthorityData) == string(caPEM))
	}
	if string(user.ClientCertificateData) != string(certPEM) || string(user.ClientKeyData) != string(keyPEM) {
		t.Error("client certificate/key not embedded")
	}
	if cl.CertificateAuthority != "" || user.ClientCertificate != "" || user.ClientKey != "" {
		t.Error("kubeconfig refers to files instead of embedding data")
	}
	// it builds a usable client config
	rc, err := clientcmd.NewDefaultClientConfig(*cfg, nil).ClientConfig()
	if err != nil {
		t.Fatalf("ClientConfig: %v", err)
	}
	if rc.Host != server {
		t.Errorf("rest config host = %s", rc.Host)
	}

	// existing file: mode set exactly, even when content is unchanged ...
	if err := WriteKubeconfig(path, 0o600, server, b.CACert, b.AdminCert, b.AdminKey); err != nil {
		t.Fatal(err)
	}
	assertMode(t, path, 0o600)
	// ... and when it changes
	if err := WriteKubeconfig(path, 0o644, "https://10.0.0.1:6443", b.CACert, b.AdminCert, b.AdminKey); err != nil {
		t.Fatal(err)
	}
	assertMode(t, path, 0o644)
	if cfg, err := clientcmd.LoadFromFile(path); err != nil || cfg.Clusters[KubeconfigName].Server != "https://10.0.0.1:6443" {
		t.Errorf("rewritten kubeconfig: %v", err)
	}

	if err := WriteKubeconfig(path, 0o600, server, filepath.Join(t.TempDir(), "nope.crt"), b.AdminCert, b.AdminKey); err == nil || !strings.Contains(err.Error(), "nope.crt") {
		t.Errorf("missing CA file: err = %v, want an error naming it", err)
	}
}

func TestWriteFileAtomicIgnoresUmaskAndReplaces(t *testing.T) {
	f := filepath.Join(t.TempDir(), "x")
	if err := os.WriteFile(f, []byte("old"), 0o666); err != nil {
		t.Fatal(err)
	}
	data := make([]byte, 64)
	_, _ = rand.Read(data)
	if err := writeFileAtomic(f, data, 0o600); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(f)
	if string(got) != string(data) {
		t.Error("content not replaced")
	}
	assertMode(t, f, 0o600)
}
