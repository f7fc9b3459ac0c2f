package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestAgentRejectsBadInputBeforeStarting(t *testing.T) {
	hash := strings.Repeat("a", 64)
	for name, tc := range map[string]struct {
		args []string
		want string
	}{
		"no server":        {[]string{"--token", "secret"}, "--server is required"},
		"no token":         {[]string{"--server", "https://10.0.0.1:6443"}, "--token or --token-file is required"},
		"http server":      {[]string{"--server", "http://10.0.0.1:6443", "--token", "s"}, "want https://"},
		"malformed token":  {[]string{"--server", "https://x:6443", "--token", "K10" + hash + "::node:"}, "--token"},
		"bad node ip":      {[]string{"--server", "https://x:6443", "--token", "s", "--node-ip", "300.1.1.1"}, "--node-ip"},
		"bad taint":        {[]string{"--server", "https://x:6443", "--token", "s", "--node-taint", "k=v"}, "--node-taint"},
		"bad kubelet-arg":  {[]string{"--server", "https://x:6443", "--token", "s", "--kubelet-arg", "=1"}, "--kubelet-arg"},
		"positional":       {[]string{"--server", "https://x:6443", "--token", "s", "extra"}, "unknown command"},
		"token and file":   {[]string{"--server", "https://x:6443", "--token", "s", "--token-file", "/etc/hostname"}, "mutually exclusive"},
		"empty token file": {[]string{"--server", "https://x:6443", "--token-file", "/dev/null"}, "is empty"},
	} {
		t.Run(name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			args := append([]string{"k3lite", "agent", "--data-dir", t.TempDir()}, tc.args...)
			code := Main(context.Background(), &out, &errOut, args)
			if code != 1 {
				t.Errorf("exit code %d, want 1; stderr: %s", code, errOut.String())
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

func TestAgentFlagsAndEnvironment(t *testing.T) {
	tokenFile := filepath.Join(t.TempDir(), "token")
	tok := "K10" + strings.Repeat("b", 64) + "::node:s3cr3t-value"
	if err := os.WriteFile(tokenFile, []byte(tok+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv(EnvURL, "https://from-env:6443")
	t.Setenv(EnvDataDir, "/from/env")
	o := &agentOptions{}
	cmd := newAgentCommandWith(o, &bytes.Buffer{})
	err := cmd.Flags().Parse([]string{
		"-d", "/from/flag", "--token-file", tokenFile, "--node-name", "n1", "--with-node-id",
		"--node-ip", "10.0.0.2,10.0.0.3", "--node-label", "a=b", "--node-label", "c=d",
		"--node-taint", "k=v:NoSchedule", "--kubelet-arg", "cgroup-root=/k3lite/n1", "--kubelet-arg", "max-pods=50",
		"--kube-proxy-arg", "proxy-mode=nftables",
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := o.complete(cmd.Flags()); err != nil {
		t.Fatal(err)
	}
	c := o.cfg
	if c.ServerURL != "https://from-env:6443" {
		t.Errorf("server %q: %s must fill an unset --server", c.ServerURL, EnvURL)
	}
	if c.DataDir != "/from/flag" {
		t.Errorf("data dir %q: the flag wins over the environment", c.DataDir)
	}
	if c.Token != tok {
		t.Error("token not read from --token-file")
	}
	if c.NodeName != "n1" || !c.WithNodeID || len(c.NodeIPs) != 2 || len(c.NodeLabels) != 2 || len(c.NodeTaints) != 1 {
		t.Errorf("config = %+v", c)
	}
	if len(c.KubeletArgs) != 2 || c.KubeletArgs[1] != "max-pods=50" || len(c.KubeProxyArgs) != 1 {
		t.Errorf("component args: kubelet %q kube-proxy %q", c.KubeletArgs, c.KubeProxyArgs)
	}
}

func TestAgentShortFlagsAndTokenEnv(t *testing.T) {
	t.Setenv(EnvToken, "bare-secret")
	o := &agentOptions{}
	cmd := newAgentCommandWith(o, &bytes.Buffer{})
	if err := cmd.Flags().Parse([]string{"-s", "https://s:6443", "-d", "/d"}); err != nil {
		t.Fatal(err)
	}
	if err := o.complete(cmd.Flags()); err != nil {
		t.Fatal(err)
	}
	if o.cfg.ServerURL != "https://s:6443" || o.cfg.Token != "bare-secret" || o.cfg.DataDir != "/d" {
		t.Errorf("config = %+v", o.cfg)
	}
	if got := agentSecrets(o.cfg.Token); len(got) == 0 || got[0] != "bare-secret" {
		t.Errorf("secrets to redact = %q", got)
	}
}

func TestContainerdSubcommandIsHidden(t *testing.T) {
	root := NewRootCommand(&bytes.Buffer{}, &bytes.Buffer{})
	c, _, err := root.Find([]string{"containerd"})
	if err != nil || c.Name() != "containerd" || !c.Hidden || !c.DisableFlagParsing {
		t.Fatalf("containerd command = %v, %v", c, err)
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

// TestComponentCommandsAreUpstreams: `k3lite kube-scheduler ARGS` is
// upstream's command line: its own flags parse (a bad one fails with
// upstream's error), and k3lite's flags are not in the way.
func TestComponentCommandsAreUpstreams(t *testing.T) {
	for _, name := range []string{"kube-apiserver", "kube-controller-manager", "kube-scheduler"} {
		cmd := upstreamCommand(controlPlaneCommands[name])
		if cmd.Flags().Lookup("secure-port") == nil || !strings.HasPrefix(cmd.Use, name) {
			t.Errorf("%s: command %q without upstream's --secure-port", name, cmd.Use)
		}
	}
	var out, errOut bytes.Buffer
	code := Main(context.Background(), &out, &errOut, []string{"k3lite", "kube-scheduler", "--no-such-flag"})
	if code == 0 || !strings.Contains(errOut.String(), "kube-scheduler exited with") {
		t.Errorf("kube-scheduler with an unknown flag: exit %d, stderr %s", code, errOut.String())
	}
}
