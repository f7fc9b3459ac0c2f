package server

import (
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	apiserverv1 "k8s.io/apiserver/pkg/apis/apiserver/v1"
)

func TestCheckPortsFreeReportsBusyPort(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	err = checkPortsFree([]string{l.Addr().String()})
	if err == nil || !strings.Contains(err.Error(), l.Addr().String()) {
		t.Fatalf("want an error naming %s, got %v", l.Addr(), err)
	}
}

func TestEnsureWritableDir(t *testing.T) {
	dir := t.TempDir()
	if err := ensureWritableDir(filepath.Join(dir, "a", "b")); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	// A path below a regular file can never be created, also as root.
	err := ensureWritableDir(filepath.Join(file, "sub"))
	if err == nil || !strings.Contains(err.Error(), "--data-dir") {
		t.Fatalf("want a data-dir error, got %v", err)
	}
}

func TestEncryptionConfigIsWrittenOnceAndPrivate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "encryption-config.json")
	if err := ensureEncryptionConfig(path); err != nil {
		t.Fatal(err)
	}
	first, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var cfg apiserverv1.EncryptionConfiguration
	if err := json.Unmarshal(first, &cfg); err != nil {
		t.Fatal(err)
	}
	p := cfg.Resources[0].Providers
	if cfg.Kind != "EncryptionConfiguration" || cfg.Resources[0].Resources[0] != "secrets" || p[0].AESCBC == nil || p[1].Identity == nil {
		t.Fatalf("unexpected config: %s", first)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", fi.Mode().Perm())
	}
	if err := ensureEncryptionConfig(path); err != nil {
		t.Fatal(err)
	}
	second, _ := os.ReadFile(path)
	if string(first) != string(second) {
		t.Error("key changed on the second call; stored Secrets would become unreadable")
	}
}

func TestWaitAllStopsAtDeadline(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	done := make(chan error, 1)
	done <- errors.New("boom")
	never := make(chan error)
	// Returns although one component never reports: the deadline bounds it.
	waitAll(log, time.Now().Add(50*time.Millisecond), map[string]chan error{"a": done, "b": never})
}

// The readiness poll is not throttled by client-go: the discovery client's
// default limiter refuses the 301st request in a row (burst 300), which a
// 10 ms poll reaches after 3 s of a slow start.
func TestReadyzClientIsNotThrottled(t *testing.T) {
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	const cfg = `apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:1"}}]
users: [{name: u, user: {token: t}}]
contexts: [{name: x, context: {cluster: c, user: u}}]
current-context: x
`
	if err := os.WriteFile(kubeconfig, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	cs, err := readyzClient(kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	limiter := cs.Discovery().RESTClient().GetRateLimiter()
	for i := range 1000 {
		if limiter != nil && !limiter.TryAccept() {
			t.Fatalf("probe %d of 1000 would wait for client-go's rate limiter", i+1)
		}
	}
}
