package agent

import (
	"bytes"
	"context"
	"crypto/x509/pkix"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	certutil "k8s.io/client-go/util/cert"
	"k8s.io/client-go/util/keyutil"

	"github.com/distrobench/distrobench/distro/pkg/bootstrap"
)

// signer is the part of bootstrap.Client the certificate step uses.
type signer interface {
	Sign(ctx context.Context, kind string, req bootstrap.CertRequest) (*bootstrap.CertResponse, error)
}

// obtainCerts has the server sign a certificate of every kind the node
// needs. The ECDSA keys are created once and kept, so a restarted agent
// keeps its keys; the certificates are fetched again at every start, as
// K3s does (which also renews them).
func obtainCerts(ctx context.Context, s signer, p paths, node string, ips []net.IP, dnsNames []string) error {
	if err := os.MkdirAll(p.agent, 0o700); err != nil {
		return fmt.Errorf("create %s: %w", p.agent, err)
	}
	for _, c := range []struct {
		kind, cert, key string
		serving         bool
	}{
		{bootstrap.CertKubeletClient, p.kubeletClientCert, p.kubeletClientKey, false},
		{bootstrap.CertKubeletServing, p.kubeletServingCert, p.kubeletServingKey, true},
		{bootstrap.CertKubeProxy, p.kubeProxyCert, p.kubeProxyKey, false},
		{bootstrap.CertAgentController, p.controllerCert, p.controllerKey, false},
	} {
		keyPEM, _, err := keyutil.LoadOrGenerateKeyFile(c.key)
		if err != nil {
			return fmt.Errorf("%s key %s: %w (delete it to create a new one)", c.kind, c.key, err)
		}
		key, err := keyutil.ParsePrivateKeyPEM(keyPEM)
		if err != nil {
			return fmt.Errorf("%s key %s: %w (delete it to create a new one)", c.kind, c.key, err)
		}
		req := bootstrap.CertRequest{NodeName: node}
		var csrIPs []net.IP
		var csrDNS []string
		if c.serving {
			csrIPs, csrDNS = ips, dnsNames
			req.IPs, req.DNSNames = ipStrings(ips), dnsNames
		}
		// The server sets the subject the kind prescribes; the CSR's only
		// proves possession of the key.
		csr, err := certutil.MakeCSR(key, &pkix.Name{CommonName: "system:node:" + node}, csrDNS, csrIPs)
		if err != nil {
			return fmt.Errorf("%s certificate request: %w", c.kind, err)
		}
		req.CSR = string(csr)
		resp, err := s.Sign(ctx, c.kind, req)
		if err != nil {
			return fmt.Errorf("obtain the %s certificate: %w", c.kind, err)
		}
		if _, err := certutil.ParseCertsPEM([]byte(resp.Certificate)); err != nil {
			return fmt.Errorf("the server's %s certificate: %w", c.kind, err)
		}
		if err := writeIfChanged(c.cert, []byte(resp.Certificate), 0o644); err != nil {
			return err
		}
		if resp.ClientCA != "" {
			if err := writeIfChanged(p.clientCA, []byte(resp.ClientCA), 0o644); err != nil {
				return err
			}
		}
		if resp.ServerCA != "" {
			if err := writeIfChanged(p.serverCA, []byte(resp.ServerCA), 0o644); err != nil {
				return err
			}
		}
	}
	return nil
}

// writeKubeconfigs writes the kubeconfigs of the kubelet, kube-proxy and
// the agent controller (flannel). They refer to the certificate files, so
// a renewed certificate needs no new kubeconfig.
// apiServerURL is where the node's components reach the Kubernetes API:
// the server the agent joined through, or that host on apiPort when the
// server said the API has a port of its own.
func apiServerURL(server string, apiPort int) (string, error) {
	if apiPort == 0 {
		return server, nil
	}
	u, err := url.Parse(server)
	if err != nil {
		return "", fmt.Errorf("--server %q: %w", server, err)
	}
	u.Host = net.JoinHostPort(u.Hostname(), strconv.Itoa(apiPort))
	return u.String(), nil
}

func writeKubeconfigs(p paths, serverURL string) error {
	for _, k := range []struct{ path, cert, key string }{
		{p.kubeletKubeconfig, p.kubeletClientCert, p.kubeletClientKey},
		{p.kubeProxyKubeconfig, p.kubeProxyCert, p.kubeProxyKey},
		{p.controllerKubeconfig, p.controllerCert, p.controllerKey},
	} {
		cfg := kubeconfig(serverURL, p.serverCA, k.cert, k.key)
		if err := clientcmd.WriteToFile(*cfg, k.path); err != nil {
			return fmt.Errorf("write kubeconfig %s: %w", k.path, err)
		}
	}
	return nil
}

func kubeconfig(server, ca, cert, key string) *clientcmdapi.Config {
	const name = "default"
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters[name] = &clientcmdapi.Cluster{Server: server, CertificateAuthority: ca}
	cfg.AuthInfos[name] = &clientcmdapi.AuthInfo{ClientCertificate: cert, ClientKey: key}
	cfg.Contexts[name] = &clientcmdapi.Context{Cluster: name, AuthInfo: name}
	cfg.CurrentContext = name
	return cfg
}

// writeIfChanged replaces file atomically unless it already holds data.
func writeIfChanged(file string, data []byte, mode os.FileMode) error {
	if have, err := os.ReadFile(file); err == nil && bytes.Equal(have, data) {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		return fmt.Errorf("write %s: %w", file, err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(file), "."+filepath.Base(file)+".tmp-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", file, err)
	}
	defer os.Remove(tmp.Name()) // no-op after the rename
	_, err = tmp.Write(data)
	if err == nil {
		err = tmp.Chmod(mode)
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), file)
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", file, err)
	}
	return nil
}
