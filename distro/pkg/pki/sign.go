package pki

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"os"
	"time"
)

// Usage is what a certificate signed from a CSR may be used for.
type Usage int

const (
	// UsageClient is TLS client authentication (ExtKeyUsageClientAuth).
	UsageClient Usage = iota
	// UsageServing is TLS server authentication (ExtKeyUsageServerAuth)
	// with the request's IP and DNS SANs.
	UsageServing
)

func (u Usage) String() string {
	switch u {
	case UsageClient:
		return "client"
	case UsageServing:
		return "serving"
	}
	return fmt.Sprintf("Usage(%d)", int(u))
}

// maxCSRBytes bounds the PEM a caller may hand to SignCSR; a real CSR for
// an EC or RSA-4096 key is a few KiB at most.
const maxCSRBytes = 64 << 10

// CA is a loaded certificate authority that signs CSRs (see SignCSR).
type CA struct {
	auth    *authority
	certPEM []byte
}

// LoadCA reads a CA certificate and its private key (as written by Ensure)
// and checks that they belong together.
func LoadCA(certFile, keyFile string) (*CA, error) {
	certPEM, err := os.ReadFile(certFile)
	if err != nil {
		return nil, fmt.Errorf("read CA certificate: %w", err)
	}
	cert, err := parseCertPEM(certPEM)
	if err != nil {
		return nil, fmt.Errorf("CA certificate %s: %w", certFile, err)
	}
	if !cert.IsCA {
		return nil, fmt.Errorf("certificate %s is not a CA certificate", certFile)
	}
	key, err := readKey(keyFile)
	if err != nil {
		return nil, fmt.Errorf("CA key %s: %w", keyFile, err)
	}
	if !publicKeysEqual(cert.PublicKey, key.Public()) {
		return nil, fmt.Errorf("CA key %s does not belong to CA certificate %s: restore the matching pair", keyFile, certFile)
	}
	return &CA{auth: &authority{cert: cert, key: key}, certPEM: certPEM}, nil
}

// CertPEM returns the CA certificate exactly as read from its file (so its
// hash is the CAHash of that file).
func (ca *CA) CertPEM() []byte { return append([]byte(nil), ca.certPEM...) }

// Certificate returns the parsed CA certificate.
func (ca *CA) Certificate() *x509.Certificate { return ca.auth.cert }

// SignRequest describes a certificate to issue for a CSR. The subject and
// SANs come from here, never from the CSR: the CSR only proves possession
// of the key and carries the public key.
type SignRequest struct {
	// CSRPEM is a PEM "CERTIFICATE REQUEST" (the first PEM block is used).
	CSRPEM []byte
	// CommonName and Organizations form the certificate's subject.
	CommonName    string
	Organizations []string
	Usage         Usage
	// IPs and DNSNames are used for UsageServing only.
	IPs      []net.IP
	DNSNames []string
}

// ErrBadCSR marks a CSR that cannot be signed (malformed, wrong PEM type,
// bad self-signature, unsupported key). Callers map it to a client error.
var ErrBadCSR = errors.New("invalid certificate signing request")

// SignCSR issues a certificate for req, valid for LeafValidity (capped at the
// CA's own expiry) and backdated like every certificate of this package. It
// returns the PEM of the new leaf.
func (ca *CA) SignCSR(req SignRequest) ([]byte, error) {
	return ca.signCSR(req, time.Now())
}

func (ca *CA) signCSR(req SignRequest, now time.Time) ([]byte, error) {
	if req.CommonName == "" {
		return nil, errors.New("sign CSR: no common name given")
	}
	if req.Usage != UsageClient && req.Usage != UsageServing {
		return nil, fmt.Errorf("sign CSR: unknown usage %v", req.Usage)
	}
	csr, err := ParseCSR(req.CSRPEM)
	if err != nil {
		return nil, err
	}
	spec := leafSpec{cn: req.CommonName, orgs: req.Organizations}
	if req.Usage == UsageServing {
		spec.server = true
		spec.ips = req.IPs
		spec.dns = req.DNSNames
	}
	der, err := issue(spec, csr.PublicKey, ca.auth, now, LeafValidity)
	if err != nil {
		return nil, fmt.Errorf("sign CSR for %q: %w", req.CommonName, err)
	}
	return encodeCert(der), nil
}

// ParseCSR decodes and verifies a PEM certificate request: its
// self-signature must be valid (proof that the requester holds the key).
// Errors wrap ErrBadCSR.
func ParseCSR(data []byte) (*x509.CertificateRequest, error) {
	if len(data) > maxCSRBytes {
		return nil, fmt.Errorf("%w: %d bytes, at most %d allowed", ErrBadCSR, len(data), maxCSRBytes)
	}
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, fmt.Errorf("%w: no PEM block found (want a PEM \"CERTIFICATE REQUEST\")", ErrBadCSR)
	}
	if block.Type != "CERTIFICATE REQUEST" && block.Type != "NEW CERTIFICATE REQUEST" {
		return nil, fmt.Errorf("%w: PEM block is %q, want \"CERTIFICATE REQUEST\"", ErrBadCSR, block.Type)
	}
	csr, err := x509.ParseCertificateRequest(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadCSR, err)
	}
	if err := csr.CheckSignature(); err != nil {
		return nil, fmt.Errorf("%w: signature does not verify: %w", ErrBadCSR, err)
	}
	return csr, nil
}
