package server

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	apiserverv1 "k8s.io/apiserver/pkg/apis/apiserver/v1"
)

// encryptionKeyName names the aescbc key K3s writes for --secrets-encryption.
const encryptionKeyName = "aescbckey"

// newEncryptionConfig returns an EncryptionConfiguration that encrypts
// Secrets with one AES-CBC key and still reads unencrypted ones (identity),
// as K3s's --secrets-encryption does.
func newEncryptionConfig(key []byte) *apiserverv1.EncryptionConfiguration {
	return &apiserverv1.EncryptionConfiguration{
		TypeMeta: metav1.TypeMeta{Kind: "EncryptionConfiguration", APIVersion: "apiserver.config.k8s.io/v1"},
		Resources: []apiserverv1.ResourceConfiguration{{
			Resources: []string{"secrets"},
			Providers: []apiserverv1.ProviderConfiguration{
				{AESCBC: &apiserverv1.AESConfiguration{Keys: []apiserverv1.Key{{
					Name:   encryptionKeyName,
					Secret: base64.StdEncoding.EncodeToString(key),
				}}}},
				{Identity: &apiserverv1.IdentityConfiguration{}},
			},
		}},
	}
}

// ensureEncryptionConfig writes the configuration with a fresh 32-byte key
// unless the file exists: the key must survive restarts, or stored Secrets
// could no longer be read.
func ensureEncryptionConfig(path string) error {
	if _, err := os.Stat(path); err == nil {
		return os.Chmod(path, 0o600)
	} else if !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("encryption config %s: %w", path, err)
	}
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return fmt.Errorf("generating encryption key: %w", err)
	}
	data, err := json.MarshalIndent(newEncryptionConfig(key), "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".encryption-config-*")
	if err != nil {
		return fmt.Errorf("encryption config %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		_ = tmp.Close()
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		_ = tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		_ = tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
