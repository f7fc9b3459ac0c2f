package pki

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"net"
	"os"
	"slices"
	"strings"
	"testing"
	"time"
)

func newCSR(t *testing.T, cn string) ([]byte, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{
		Subject:     pkix.Name{CommonName: cn, Organization: []string{"system:masters"}},
		DNSNames:    []string{"evil.example"},
		IPAddresses: []net.IP{net.ParseIP("203.0.113.9")},
	}, key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}), key
}

func parsePEMCert(t *testing.T, data []byte) *x509.Certificate {
	t.Helper()
	c, err := parseCertPEM(data)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestSignCSRClientForcesSubject(t *testing.T) {
	b, _ := freshPKI(t)
	ca, err := LoadCA(b.CACert, b.CAKey)
	if err != nil {
		t.Fatal(err)
	}
	csr, key := newCSR(t, "system:admin")
	out, err := ca.SignCSR(SignRequest{CSRPEM: csr, CommonName: "system:node:n1", Organizations: []string{"system:nodes"}, Usage: UsageClient})
	if err != nil {
		t.Fatal(err)
	}
	c := parsePEMCert(t, out)
	if c.Subject.CommonName != "system:node:n1" || !slices.Equal(c.Subject.Organization, []string{"system:nodes"}) {
		t.Errorf("subject %v, want CN system:node:n1 O system:nodes (the CSR's subject must be ignored)", c.Subject)
	}
	if len(c.DNSNames) != 0 || len(c.IPAddresses) != 0 {
		t.Errorf("client certificate carries SANs from the CSR: %v %v", c.DNSNames, c.IPAddresses)
	}
	if !slices.Equal(c.ExtKeyUsage, []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}) {
		t.Errorf("ext key usage %v, want client auth only", c.ExtKeyUsage)
	}
	if !publicKeysEqual(c.PublicKey, key.Public()) {
		t.Error("certificate is not for the CSR's key")
	}
	if c.IsCA {
		t.Error("leaf is a CA")
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca.Certificate())
	if _, err := c.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Errorf("does not verify against the CA: %v", err)
	}
	if life := c.NotAfter.Sub(c.NotBefore); life != LeafValidity+backdate {
		t.Errorf("validity %v, want %v (+%v backdate)", life, LeafValidity, backdate)
	}
}

func TestSignCSRServingUsesRequestedSANs(t *testing.T) {
	b, _ := freshPKI(t)
	ca, err := LoadCA(b.CACert, b.CAKey)
	if err != nil {
		t.Fatal(err)
	}
	csr, _ := newCSR(t, "whatever")
	ips := []net.IP{net.ParseIP("10.0.0.5"), net.ParseIP("fd00::5")}
	out, err := ca.SignCSR(SignRequest{CSRPEM: csr, CommonName: "system:node:n1", Organizations: []string{"system:nodes"},
		Usage: UsageServing, IPs: ips, DNSNames: []string{"n1"}})
	if err != nil {
		t.Fatal(err)
	}
	c := parsePEMCert(t, out)
	if !slices.Equal(c.ExtKeyUsage, []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}) {
		t.Errorf("ext key usage %v, want server auth only", c.ExtKeyUsage)
	}
	if !slices.Equal(c.DNSNames, []string{"n1"}) || len(c.IPAddresses) != 2 || !c.IPAddresses[0].Equal(ips[0]) || !c.IPAddresses[1].Equal(ips[1]) {
		t.Errorf("SANs %v %v, want exactly the requested ones", c.DNSNames, c.IPAddresses)
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca.Certificate())
	if _, err := c.Verify(x509.VerifyOptions{Roots: roots, DNSName: "n1"}); err != nil {
		t.Errorf("does not verify as serving certificate for n1: %v", err)
	}
}

func TestSignCSRCappedAtCAExpiry(t *testing.T) {
	b, _ := freshPKI(t)
	ca, err := LoadCA(b.CACert, b.CAKey)
	if err != nil {
		t.Fatal(err)
	}
	csr, _ := newCSR(t, "x")
	now := ca.Certificate().NotAfter.Add(-24 * time.Hour)
	out, err := ca.signCSR(SignRequest{CSRPEM: csr, CommonName: "x", Usage: UsageClient}, now)
	if err != nil {
		t.Fatal(err)
	}
	if c := parsePEMCert(t, out); !c.NotAfter.Equal(ca.Certificate().NotAfter) {
		t.Errorf("NotAfter %v, want the CA's %v", c.NotAfter, ca.Certificate().NotAfter)
	}
}

func TestSignCSRRejectsBadInput(t *testing.T) {
	b, _ := freshPKI(t)
	ca, err := LoadCA(b.CACert, b.CAKey)
	if err != nil {
		t.Fatal(err)
	}
	good, _ := newCSR(t, "x")
	block, _ := pem.Decode(good)
	tampered := append([]byte(nil), block.Bytes...)
	tampered[len(tampered)-3] ^= 0xff // inside the signature
	certPEM, err := os.ReadFile(b.AdminCert)
	if err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string][]byte{
		"empty":     nil,
		"garbage":   []byte("not a csr"),
		"cert":      certPEM,
		"bad der":   pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: []byte{1, 2, 3}}),
		"bad sig":   pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: tampered}),
		"oversized": []byte(strings.Repeat("A", maxCSRBytes+1)),
	} {
		_, err := ca.SignCSR(SignRequest{CSRPEM: data, CommonName: "x", Usage: UsageClient})
		if !errors.Is(err, ErrBadCSR) {
			t.Errorf("%s: err %v, want ErrBadCSR", name, err)
		}
	}
	if _, err := ca.SignCSR(SignRequest{CSRPEM: good, Usage: UsageClient}); err == nil || errors.Is(err, ErrBadCSR) {
		t.Errorf("empty common name: err %v, want a non-CSR error", err)
	}
	if _, err := ca.SignCSR(SignRequest{CSRPEM: good, CommonName: "x", Usage: Usage(7)}); err == nil {
		t.Error("unknown usage accepted")
	}
}

func TestLoadCARefusesMismatchedKey(t *testing.T) {
	b, _ := freshPKI(t)
	if _, err := LoadCA(b.CACert, b.FrontProxyCAKey); err == nil || !strings.Contains(err.Error(), "does not belong") {
		t.Errorf("err %v, want a mismatch error", err)
	}
	if _, err := LoadCA(b.AdminCert, b.AdminKey); err == nil || !strings.Contains(err.Error(), "not a CA") {
		t.Errorf("err %v, want a not-a-CA error", err)
	}
	ca, err := LoadCA(b.CACert, b.CAKey)
	if err != nil {
		t.Fatal(err)
	}
	onDisk, _ := os.ReadFile(b.CACert)
	if string(ca.CertPEM()) != string(onDisk) {
		t.Error("CertPEM differs from the file (its hash must equal CAHash)")
	}
}
