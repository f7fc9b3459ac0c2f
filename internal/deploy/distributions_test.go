package deploy

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestStyleOf(t *testing.T) {
	for _, tc := range []struct {
		binary, style string
		args          []string
		port          int
		err           string
	}{
		{"/cache/k3lite-linux-amd64", "k3s", nil, 0, ""},
		{"/cache/k3lite-linux-amd64", "rke2", []string{"--control-plane=static-pods"}, 9345, ""},
		{"/usr/local/bin/rke2", "rke2", nil, 9345, ""},
		{"/usr/local/bin/k3s", "rke2", nil, 0, "runs only k3s"},
		{"/usr/local/bin/rke2", "k3s", nil, 0, "runs only rke2"},
		{"/tmp/fake-server.sh", "rke2", nil, 9345, ""}, // not known: runs as it is
	} {
		args, port, err := styleOf(tc.binary, tc.style)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s as %s: %v, want an error saying %q", tc.binary, tc.style, err, tc.err)
			}
			continue
		}
		if err != nil || !slices.Equal(args, tc.args) || port != tc.port {
			t.Errorf("%s as %s: args %v, port %d, err %v; want %v, %d", tc.binary, tc.style, args, port, err, tc.args, tc.port)
		}
	}
}

func TestAgentServerURLInTheRKE2Style(t *testing.T) {
	c := &Cluster{ServerURL: "https://10.44.0.2:6443", SupervisorPort: 9345}
	if got := c.agentServerURL(); got != "https://10.44.0.2:9345" {
		t.Errorf("agents join at %s, want the supervisor port", got)
	}
	c.SupervisorPort = 0
	if got := c.agentServerURL(); got != c.ServerURL {
		t.Errorf("k3s style: agents join at %s, want the server URL", got)
	}
}

func TestKeepSystemPodLogs(t *testing.T) {
	logs, dst := t.TempDir(), filepath.Join(t.TempDir(), "node0-pod-logs")
	for _, f := range []string{
		"kube-system_kube-apiserver-node0_aaa/kube-apiserver/0.log",
		"default_web-1_bbb/web/0.log",
	} {
		p := filepath.Join(logs, f)
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("line\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	keepSystemPodLogs(logs, dst)
	entries, _ := os.ReadDir(dst)
	if len(entries) != 1 || entries[0].Name() != "kube-apiserver-node0.kube-apiserver.0.log" {
		t.Errorf("kept %v, want the apiserver pod's log only", entries)
	}
}
