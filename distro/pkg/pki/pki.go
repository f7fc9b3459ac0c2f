// Package pki creates and maintains the certificates and keys a k3lite
// server needs: the cluster CA, the front-proxy (request-header) CA, the
// kube-apiserver serving certificate, the client certificates of the control
// plane components and the service-account signing key.
//
// Ensure is idempotent: material that is present and still good is reused
// byte for byte, so a restarted server keeps its identity and every
// kubeconfig handed out stays valid. Only what is missing, about to expire
// or (for the serving certificate) lacking a requested SAN is regenerated,
// always signed by the existing CA.
//
// The code uses the standard library (crypto/x509, crypto/ecdsa,
// encoding/pem) directly: client-go's cert helpers create self-signed
// certificates only and do not cover the reuse/renewal rules we need.
package pki

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

const (
	// CAValidity is the lifetime of a newly created CA certificate.
	CAValidity = 10 * 365 * 24 * time.Hour
	// LeafValidity is the lifetime of a newly created serving or client certificate.
	LeafValidity = 365 * 24 * time.Hour
	// RenewBefore is how long before expiry a leaf certificate is regenerated.
	RenewBefore = 90 * 24 * time.Hour

	// backdate tolerates small clock differences between nodes.
	backdate = time.Hour

	// DefaultServiceIP is the first IP of K3s's default service CIDR 10.43.0.0/16.
	DefaultServiceIP = "10.43.0.1"

	dirMode  = 0o700
	keyMode  = 0o600
	certMode = 0o644
)

// Options selects what Ensure creates.
type Options struct {
	// Dir holds every file (created with mode 0700). Required.
	Dir string
	// IPs and DNSNames are added to the serving certificate's SANs (node IP,
	// --tls-san, --advertise-address ...).
	IPs      []net.IP
	DNSNames []string
	// ServiceIP is the "kubernetes" Service's ClusterIP (first IP of the
	// service CIDR). Default DefaultServiceIP.
	ServiceIP net.IP
}

// Bundle holds the paths of every file Ensure maintains (all under Dir).
type Bundle struct {
	Dir string

	CACert, CAKey                                         string
	FrontProxyCACert, FrontProxyCAKey                     string
	ServingCert, ServingKey                               string
	AdminCert, AdminKey                                   string
	ControllerManagerCert, ControllerManagerKey           string
	SchedulerCert, SchedulerKey                           string
	APIServerKubeletClientCert, APIServerKubeletClientKey string
	FrontProxyClientCert, FrontProxyClientKey             string
	ServiceAccountKey, ServiceAccountPub                  string
}

// Subjects of the client certificates (what RBAC sees).
const (
	AdminCN                  = "system:admin"
	MastersGroup             = "system:masters"
	ControllerManagerCN      = "system:kube-controller-manager"
	SchedulerCN              = "system:kube-scheduler"
	APIServerKubeletClientCN = "kube-apiserver-kubelet-client"
	FrontProxyClientCN       = "system:auth-proxy"
	ServingCN                = "kube-apiserver"
)

// NewBundle returns the file layout under dir without touching the disk.
func NewBundle(dir string) *Bundle {
	p := func(name string) string { return filepath.Join(dir, name) }
	return &Bundle{
		Dir:                        dir,
		CACert:                     p("ca.crt"),
		CAKey:                      p("ca.key"),
		FrontProxyCACert:           p("front-proxy-ca.crt"),
		FrontProxyCAKey:            p("front-proxy-ca.key"),
		ServingCert:                p("serving-kube-apiserver.crt"),
		ServingKey:                 p("serving-kube-apiserver.key"),
		AdminCert:                  p("client-admin.crt"),
		AdminKey:                   p("client-admin.key"),
		ControllerManagerCert:      p("client-controller-manager.crt"),
		ControllerManagerKey:       p("client-controller-manager.key"),
		SchedulerCert:              p("client-scheduler.crt"),
		SchedulerKey:               p("client-scheduler.key"),
		APIServerKubeletClientCert: p("client-kube-apiserver-kubelet.crt"),
		APIServerKubeletClientKey:  p("client-kube-apiserver-kubelet.key"),
		FrontProxyClientCert:       p("client-auth-proxy.crt"),
		FrontProxyClientKey:        p("client-auth-proxy.key"),
		ServiceAccountKey:          p("service-account.key"),
		ServiceAccountPub:          p("service-account.pub"),
	}
}

// ServingSANs returns the IPs and DNS names the serving certificate must
// carry for o: the fixed in-cluster names, loopback, the service IP and
// everything o adds, deduplicated.
func ServingSANs(o Options) ([]net.IP, []string) {
	svc := o.ServiceIP
	if svc == nil {
		svc = net.ParseIP(DefaultServiceIP)
	}
	ips := []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback, svc}
	ips = append(ips, o.IPs...)
	dns := []string{"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local"}
	dns = append(dns, o.DNSNames...)

	var outIPs []net.IP
	for _, ip := range ips {
		if ip == nil || slices.ContainsFunc(outIPs, ip.Equal) {
			continue
		}
		outIPs = append(outIPs, ip)
	}
	var outDNS []string
	for _, d := range dns {
		d = strings.ToLower(strings.TrimSpace(d))
		if d == "" || slices.Contains(outDNS, d) {
			continue
		}
		outDNS = append(outDNS, d)
	}
	return outIPs, outDNS
}

// Ensure creates whatever is missing under o.Dir and returns the paths.
// See the package documentation for the reuse rules.
func Ensure(o Options) (*Bundle, error) {
	if o.Dir == "" {
		return nil, errors.New("pki: no directory given")
	}
	if err := os.MkdirAll(o.Dir, dirMode); err != nil {
		return nil, fmt.Errorf("create PKI directory %s: %w", o.Dir, err)
	}
	if err := os.Chmod(o.Dir, dirMode); err != nil {
		return nil, fmt.Errorf("set mode of PKI directory %s: %w", o.Dir, err)
	}
	b := NewBundle(o.Dir)
	now := time.Now()

	ca, err := ensureCA(b.CACert, b.CAKey, "k3lite-server-ca", now)
	if err != nil {
		return nil, err
	}
	fpCA, err := ensureCA(b.FrontProxyCACert, b.FrontProxyCAKey, "k3lite-request-header-ca", now)
	if err != nil {
		return nil, err
	}

	ips, dns := ServingSANs(o)
	leaves := []struct {
		cert, key string
		tmpl      leafSpec
		signer    *authority
	}{
		{b.ServingCert, b.ServingKey, leafSpec{cn: ServingCN, server: true, ips: ips, dns: dns}, ca},
		{b.AdminCert, b.AdminKey, leafSpec{cn: AdminCN, orgs: []string{MastersGroup}}, ca},
		{b.ControllerManagerCert, b.ControllerManagerKey, leafSpec{cn: ControllerManagerCN}, ca},
		{b.SchedulerCert, b.SchedulerKey, leafSpec{cn: SchedulerCN}, ca},
		{b.APIServerKubeletClientCert, b.APIServerKubeletClientKey, leafSpec{cn: APIServerKubeletClientCN, orgs: []string{MastersGroup}}, ca},
		{b.FrontProxyClientCert, b.FrontProxyClientKey, leafSpec{cn: FrontProxyClientCN}, fpCA},
	}
	for _, l := range leaves {
		if err := ensureLeaf(l.cert, l.key, l.tmpl, l.signer, now); err != nil {
			return nil, err
		}
	}
	if err := ensureServiceAccountKey(b.ServiceAccountKey, b.ServiceAccountPub); err != nil {
		return nil, err
	}
	return b, nil
}

// CAHash returns the lowercase hex SHA-256 of the CA certificate file's
// bytes, the way K3s pins the cluster CA in join tokens.
func CAHash(caCertFile string) (string, error) {
	data, err := os.ReadFile(caCertFile)
	if err != nil {
		return "", fmt.Errorf("read CA certificate to hash it: %w", err)
	}
	return HashBytes(data), nil
}

// authority is a loaded CA.
type authority struct {
	cert *x509.Certificate
	key  crypto.Signer
}

// leafSpec describes a wanted leaf certificate.
type leafSpec struct {
	cn     string
	orgs   []string
	server bool
	ips    []net.IP
	dns    []string
}

func ensureCA(certFile, keyFile, cnPrefix string, now time.Time) (*authority, error) {
	certPEM, certErr := os.ReadFile(certFile)
	if certErr == nil {
		cert, err := parseCertPEM(certPEM)
		if err != nil {
			return nil, fmt.Errorf("CA certificate %s is unreadable (%w): restore it from a backup, or delete it and its key to create a new CA (every issued certificate and join token becomes invalid)", certFile, err)
		}
		keyPEM, err := os.ReadFile(keyFile)
		if err != nil {
			return nil, fmt.Errorf("CA key %s for existing CA certificate %s cannot be read (%w): restore it, or delete the certificate to create a new CA (every issued certificate and join token becomes invalid)", keyFile, certFile, err)
		}
		key, err := parseKeyPEM(keyPEM)
		if err != nil {
			return nil, fmt.Errorf("CA key %s: %w", keyFile, err)
		}
		if !publicKeysEqual(cert.PublicKey, key.Public()) {
			return nil, fmt.Errorf("CA key %s does not belong to CA certificate %s: restore the matching pair", keyFile, certFile)
		}
		if err := fixMode(keyFile, keyMode); err != nil {
			return nil, err
		}
		if err := fixMode(certFile, certMode); err != nil {
			return nil, err
		}
		return &authority{cert: cert, key: key}, nil
	}
	if !errors.Is(certErr, fs.ErrNotExist) {
		return nil, fmt.Errorf("read CA certificate: %w", certErr)
	}

	// No certificate yet: a key without its certificate can only be left
	// over from an interrupted first start (the key is written first, and
	// nothing is signed before the certificate exists), so replace it.
	key, err := newECKey()
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          mustSerial(),
		Subject:               pkix.Name{CommonName: fmt.Sprintf("%s@%d", cnPrefix, now.Unix())},
		NotBefore:             now.Add(-backdate),
		NotAfter:              now.Add(CAValidity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, fmt.Errorf("create CA certificate %s: %w", certFile, err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("parse new CA certificate: %w", err)
	}
	if err := writeKey(keyFile, key); err != nil {
		return nil, err
	}
	if err := writeFileAtomic(certFile, encodeCert(der), certMode); err != nil {
		return nil, err
	}
	return &authority{cert: cert, key: key}, nil
}

// ensureLeaf keeps certFile/keyFile when they are a valid pair signed by ca
// with the wanted subject and SANs and at least RenewBefore of life left;
// otherwise it issues a new certificate (reusing a still-valid key).
func ensureLeaf(certFile, keyFile string, spec leafSpec, ca *authority, now time.Time) error {
	key, keyErr := readKey(keyFile)
	if keyErr == nil {
		if ok, err := leafGood(certFile, key, spec, ca, now); err != nil {
			return err
		} else if ok {
			if err := fixMode(keyFile, keyMode); err != nil {
				return err
			}
			return fixMode(certFile, certMode)
		}
	} else {
		var err error
		if key, err = newECKey(); err != nil {
			return err
		}
		if err := writeKey(keyFile, key); err != nil {
			return err
		}
	}
	der, err := issue(spec, key.Public(), ca, now, LeafValidity)
	if err != nil {
		return fmt.Errorf("issue certificate %s: %w", certFile, err)
	}
	if err := fixMode(keyFile, keyMode); err != nil {
		return err
	}
	return writeFileAtomic(certFile, encodeCert(der), certMode)
}

func leafGood(certFile string, key crypto.Signer, spec leafSpec, ca *authority, now time.Time) (bool, error) {
	data, err := os.ReadFile(certFile)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("read certificate: %w", err)
	}
	cert, err := parseCertPEM(data)
	if err != nil {
		return false, nil // unreadable: reissue
	}
	switch {
	case !publicKeysEqual(cert.PublicKey, key.Public()):
		return false, nil
	case cert.CheckSignatureFrom(ca.cert) != nil:
		return false, nil
	case now.Add(RenewBefore).After(cert.NotAfter):
		return false, nil
	case cert.Subject.CommonName != spec.cn || !slices.Equal(cert.Subject.Organization, spec.orgs):
		return false, nil
	}
	for _, ip := range spec.ips {
		if !slices.ContainsFunc(cert.IPAddresses, ip.Equal) {
			return false, nil
		}
	}
	for _, d := range spec.dns {
		if !slices.Contains(cert.DNSNames, d) {
			return false, nil
		}
	}
	return true, nil
}

func issue(spec leafSpec, pub crypto.PublicKey, ca *authority, now time.Time, validity time.Duration) ([]byte, error) {
	tmpl := &x509.Certificate{
		SerialNumber:          mustSerial(),
		Subject:               pkix.Name{CommonName: spec.cn, Organization: spec.orgs},
		NotBefore:             now.Add(-backdate),
		NotAfter:              now.Add(validity),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
	}
	if spec.server {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		tmpl.IPAddresses = spec.ips
		tmpl.DNSNames = spec.dns
	}
	if tmpl.NotAfter.After(ca.cert.NotAfter) {
		tmpl.NotAfter = ca.cert.NotAfter
	}
	return x509.CreateCertificate(rand.Reader, tmpl, ca.cert, pub, ca.key)
}

// ensureServiceAccountKey keeps an existing signing key (tokens already
// issued stay valid) and (re)writes the public half when it is missing or
// does not match. The key is RSA 2048 like K3s and kubeadm use, which every
// OIDC/JWT consumer understands.
func ensureServiceAccountKey(keyFile, pubFile string) error {
	key, err := readKey(keyFile)
	if err != nil {
		rsaKey, genErr := rsa.GenerateKey(rand.Reader, 2048)
		if genErr != nil {
			return fmt.Errorf("generate service-account key: %w", genErr)
		}
		key = rsaKey
		if err := writeKey(keyFile, key); err != nil {
			return err
		}
	} else if err := fixMode(keyFile, keyMode); err != nil {
		return err
	}
	pubDER, err := x509.MarshalPKIXPublicKey(key.Public())
	if err != nil {
		return fmt.Errorf("encode service-account public key: %w", err)
	}
	want := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})
	if have, err := os.ReadFile(pubFile); err == nil && bytes.Equal(have, want) {
		return fixMode(pubFile, certMode)
	}
	return writeFileAtomic(pubFile, want, certMode)
}

// readKey reads and parses a private key; any failure means "make a new one".
func readKey(file string) (crypto.Signer, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	return parseKeyPEM(data)
}

func newECKey() (*ecdsa.PrivateKey, error) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate ECDSA key: %w", err)
	}
	return k, nil
}

func writeKey(file string, key crypto.Signer) error {
	var block *pem.Block
	switch k := key.(type) {
	case *ecdsa.PrivateKey:
		der, err := x509.MarshalECPrivateKey(k)
		if err != nil {
			return fmt.Errorf("encode key %s: %w", file, err)
		}
		block = &pem.Block{Type: "EC PRIVATE KEY", Bytes: der}
	case *rsa.PrivateKey:
		block = &pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)}
	default:
		der, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			return fmt.Errorf("encode key %s: %w", file, err)
		}
		block = &pem.Block{Type: "PRIVATE KEY", Bytes: der}
	}
	return writeFileAtomic(file, pem.EncodeToMemory(block), keyMode)
}

func parseKeyPEM(data []byte) (crypto.Signer, error) {
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, errors.New("no PEM block found")
	}
	switch block.Type {
	case "EC PRIVATE KEY":
		return x509.ParseECPrivateKey(block.Bytes)
	case "RSA PRIVATE KEY":
		return x509.ParsePKCS1PrivateKey(block.Bytes)
	case "PRIVATE KEY":
		k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
		if err != nil {
			return nil, err
		}
		s, ok := k.(crypto.Signer)
		if !ok {
			return nil, fmt.Errorf("unsupported private key type %T", k)
		}
		return s, nil
	}
	return nil, fmt.Errorf("unexpected PEM block %q, want a private key", block.Type)
}

func parseCertPEM(data []byte) (*x509.Certificate, error) {
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, errors.New("no CERTIFICATE PEM block found")
	}
	return x509.ParseCertificate(block.Bytes)
}

func encodeCert(der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

func publicKeysEqual(a, b crypto.PublicKey) bool {
	ea, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && ea.Equal(b)
}

func mustSerial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		panic(fmt.Sprintf("crypto/rand failed: %v", err)) // crypto/rand never fails on supported platforms
	}
	return n.Add(n, big.NewInt(1))
}

func fixMode(file string, mode os.FileMode) error {
	if err := os.Chmod(file, mode); err != nil {
		return fmt.Errorf("set mode %#o on %s: %w", mode, file, err)
	}
	return nil
}

// writeFileAtomic writes data to a temporary file next to file, sets mode
// exactly (independent of the umask) and renames it over file, so a crash
// never leaves a half-written key or certificate.
func writeFileAtomic(file string, data []byte, mode os.FileMode) error {
	dir := filepath.Dir(file)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(file)+".tmp-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", file, err)
	}
	tmpName := tmp.Name()
	defer os.Remove(tmpName) // no-op after a successful rename
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", file, err)
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", file, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", file, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", file, err)
	}
	if err := os.Rename(tmpName, file); err != nil {
		return fmt.Errorf("write %s: %w", file, err)
	}
	return nil
}
