package pki

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// KubeconfigName is the cluster, user and context name written into
// kubeconfigs, as K3s does.
const KubeconfigName = "default"

// WriteKubeconfig writes a kubeconfig for server that embeds the CA,
// client certificate and key read from the given files. The parent
// directory is created (0755) when missing and the file gets exactly mode,
// also when it already exists (K3s's --write-kubeconfig-mode). The file is
// replaced atomically and left untouched when its content is unchanged.
func WriteKubeconfig(path string, mode os.FileMode, server, caFile, certFile, keyFile string) error {
	read := func(what, f string) ([]byte, error) {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("kubeconfig %s: read %s: %w", path, what, err)
		}
		return b, nil
	}
	ca, err := read("CA certificate", caFile)
	if err != nil {
		return err
	}
	cert, err := read("client certificate", certFile)
	if err != nil {
		return err
	}
	key, err := read("client key", keyFile)
	if err != nil {
		return err
	}

	cfg := clientcmdapi.NewConfig()
	cfg.Clusters[KubeconfigName] = &clientcmdapi.Cluster{Server: server, CertificateAuthorityData: ca}
	cfg.AuthInfos[KubeconfigName] = &clientcmdapi.AuthInfo{ClientCertificateData: cert, ClientKeyData: key}
	cfg.Contexts[KubeconfigName] = &clientcmdapi.Context{Cluster: KubeconfigName, AuthInfo: KubeconfigName}
	cfg.CurrentContext = KubeconfigName
	data, err := clientcmd.Write(*cfg)
	if err != nil {
		return fmt.Errorf("kubeconfig %s: encode: %w", path, err)
	}

	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("kubeconfig %s: create directory: %w", path, err)
	}
	if have, err := os.ReadFile(path); err == nil && bytes.Equal(have, data) {
		return fixMode(path, mode)
	}
	if err := writeFileAtomic(path, data, mode); err != nil {
		return fmt.Errorf("kubeconfig: %w", err)
	}
	return nil
}

// HashBytes returns the lowercase hex SHA-256 of data (see CAHash).
func HashBytes(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}
