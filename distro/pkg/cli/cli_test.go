package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestAgentIsAPlaceholderWithExitCode2(t *testing.T) {
	var out, errOut bytes.Buffer
	code := Main(context.Background(), &out, &errOut, []string{"k3lite", "agent", "--server", "https://x:6443"})
	if code != 2 {
		t.Errorf("exit code %d, want 2", code)
	}
	if !strings.Contains(errOut.String(), "agent: not implemented in this build yet") {
		t.Errorf("stderr = %q", errOut.String())
	}
}

func TestVersion(t *testing.T) {
	var out bytes.Buffer
	if code := Main(context.Background(), &out, &out, []string{"k3lite", "--version"}); code != 0 {
		t.Fatalf("exit %d: %s", code, out.String())
	}
	if !strings.HasPrefix(out.String(), "k3lite version ") || !strings.Contains(out.String(), "go version go") {
		t.Errorf("--version printed %q", out.String())
	}
}

func TestServerRejectsBadInputBeforeStarting(t *testing.T) {
	dir := t.TempDir()
	for name, tc := range map[string]struct {
		args []string
		want string
	}{
		"unknown scheme":  {[]string{"--datastore-endpoint", "redis://127.0.0.1:6379"}, "redis"},
		"malformed token": {[]string{"--token", "K10abc::server"}, "--token"},
		"bad mode":        {[]string{"--write-kubeconfig-mode", "rw"}, "--write-kubeconfig-mode"},
		"extra arg shape": {[]string{"--kube-apiserver-arg", "=1"}, "--kube-apiserver-arg"},
		"unknown component flag": {
			[]string{"--kube-apiserver-arg", "no-such-flag=1"}, "no-such-flag",
		},
	} {
		t.Run(name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			t.Setenv(EnvConfigFile, filepath.Join(dir, "config.yaml"))
			if err := os.WriteFile(filepath.Join(dir, "config.yaml"), []byte("debug: false\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			sub := filepath.Join(dir, strings.ReplaceAll(name, " ", "-"))
			args := append([]string{"k3lite", "server", "--data-dir", sub, "--disable-agent", "--write-kubeconfig", filepath.Join(sub, "kc")}, tc.args...)
			code := Main(context.Background(), &out, &errOut, args)
			if code == 0 {
				t.Fatalf("exit 0 for bad input; stderr: %s", errOut.String())
			}
			if !strings.Contains(errOut.String(), tc.want) {
				t.Errorf("stderr does not mention %q: %s", tc.want, errOut.String())
			}
			if strings.Contains(errOut.String(), "goroutine ") {
				t.Errorf("stack trace printed: %s", errOut.String())
			}
		})
	}
}

func TestConfigFileFromArgs(t *testing.T) {
	for _, tc := range []struct {
		args     []string
		path     string
		explicit bool
	}{
		{[]string{"--config", "/a.yaml"}, "/a.yaml", true},
		{[]string{"-c", "/b.yaml", "--debug"}, "/b.yaml", true},
		{[]string{"--config=/c.yaml"}, "/c.yaml", true},
		{[]string{"--debug"}, "", false},
		{[]string{"--", "--config", "/d.yaml"}, "", false},
	} {
		p, ok := configFileFromArgs(tc.args)
		if p != tc.path || ok != tc.explicit {
			t.Errorf("configFileFromArgs(%q) = %q, %v", tc.args, p, ok)
		}
	}
}

func TestConfigFileMergesWithCommandLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config.yaml")
	yaml := "https-listen-port: 7443\ntls-san:\n  - a.example\nkube-apiserver-arg:\n  - profiling=false\n"
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	merged, err := withConfigFile([]string{"--config", path, "--https-listen-port", "8443", "--tls-san", "b.example"})
	if err != nil {
		t.Fatal(err)
	}
	cmd := newServerCommand(&bytes.Buffer{})
	if err := cmd.Flags().Parse(merged); err != nil {
		t.Fatalf("parse %q: %v", merged, err)
	}
	port, _ := cmd.Flags().GetInt("https-listen-port")
	sans, _ := cmd.Flags().GetStringSlice("tls-san")
	extra, _ := cmd.Flags().GetStringArray("kube-apiserver-arg")
	if port != 8443 {
		t.Errorf("port %d: the command line must win", port)
	}
	if strings.Join(sans, ",") != "a.example,b.example" {
		t.Errorf("tls-san = %q: list items from both places must add up", sans)
	}
	if len(extra) != 1 || extra[0] != "profiling=false" {
		t.Errorf("kube-apiserver-arg = %q", extra)
	}
}

func TestEnvironmentFillsUnsetFlags(t *testing.T) {
	t.Setenv(EnvDataDir, "/from/env")
	t.Setenv(EnvDatastoreEndpoint, "postgres://u:p@127.0.0.1:5432/k")
	o := newServerOptions()
	cmd := newServerCommandWith(o, &bytes.Buffer{})
	if err := cmd.Flags().Parse([]string{"--data-dir", "/from/flag", "--write-kubeconfig-mode", "644"}); err != nil {
		t.Fatal(err)
	}
	if err := o.complete(cmd.Flags()); err != nil {
		t.Fatal(err)
	}
	if o.cfg.DataDir != "/from/flag" {
		t.Errorf("data dir %q: a flag wins over the environment", o.cfg.DataDir)
	}
	if o.cfg.DatastoreEndpoint != "postgres://u:p@127.0.0.1:5432/k" {
		t.Errorf("datastore endpoint %q: the environment must fill an unset flag", o.cfg.DatastoreEndpoint)
	}
	if o.cfg.WriteKubeconfigMode != 0o644 {
		t.Errorf("mode %v", o.cfg.WriteKubeconfigMode)
	}
}

func TestRedactingWriter(t *testing.T) {
	var buf bytes.Buffer
	w := newRedactingWriter(&buf, "hunter22", "ab")
	_, _ = w.Write([]byte("password=hunter22 tab\n"))
	if got := buf.String(); got != "password=REDACTED tab\n" {
		t.Errorf("got %q", got)
	}
}
