package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/distrobench/distrobench/distro/pkg/agent"
	"github.com/distrobench/distrobench/distro/pkg/server"
)

// K3s's --private-registry: the default file counts only when it exists;
// a given file is kept (and must exist when the agent loads it).
func TestPrivateRegistryFlags(t *testing.T) {
	tok := "--token=K10" + string(bytes.Repeat([]byte("b"), 64)) + "::node:secret"
	file := filepath.Join(t.TempDir(), "registries.yaml")
	if err := os.WriteFile(file, []byte("mirrors: {}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		args []string
		want string
		def  string // the default file (the real one is /etc/k3lite/registries.yaml)
	}{
		{"given", []string{"--private-registry", file}, file, agent.DefaultPrivateRegistry},
		{"given but missing", []string{"--private-registry", "/nonexistent/r.yaml"}, "/nonexistent/r.yaml", agent.DefaultPrivateRegistry},
		{"default present", nil, file, file},
		{"default missing", nil, "", "/nonexistent/default.yaml"},
	} {
		t.Run("agent "+tc.name, func(t *testing.T) {
			o := &agentOptions{cfg: agent.Config{DataDir: "/d", PrivateRegistry: tc.def}}
			cmd := newAgentCommandWith(o, &bytes.Buffer{})
			args := append([]string{"--server", "https://s:6443", tok, "--disable-default-registry-endpoint"}, tc.args...)
			if err := cmd.Flags().Parse(args); err != nil {
				t.Fatal(err)
			}
			if err := o.complete(cmd.Flags()); err != nil {
				t.Fatal(err)
			}
			if o.cfg.PrivateRegistry != tc.want || !o.cfg.DisableDefaultRegistryEndpoint {
				t.Errorf("private registry %q, disable default %v; want %q, true", o.cfg.PrivateRegistry, o.cfg.DisableDefaultRegistryEndpoint, tc.want)
			}
		})
		t.Run("server "+tc.name, func(t *testing.T) {
			o := newServerOptions()
			o.cfg.Agent.PrivateRegistry = tc.def
			cmd := newServerCommandWith(o, &bytes.Buffer{})
			if err := cmd.Flags().Parse(append([]string{"--embedded-registry", "--disable-default-registry-endpoint"}, tc.args...)); err != nil {
				t.Fatal(err)
			}
			if err := o.complete(cmd.Flags()); err != nil {
				t.Fatal(err)
			}
			if !o.cfg.EmbeddedRegistry || o.cfg.Agent.PrivateRegistry != tc.want || !o.cfg.Agent.DisableDefaultRegistryEndpoint {
				t.Errorf("embedded %v, private registry %q, disable default %v; want true, %q, true",
					o.cfg.EmbeddedRegistry, o.cfg.Agent.PrivateRegistry, o.cfg.Agent.DisableDefaultRegistryEndpoint, tc.want)
			}
		})
	}
	if o := newServerOptions(); o.cfg.Agent.PrivateRegistry != agent.DefaultPrivateRegistry || agent.DefaultPrivateRegistry != "/etc/k3lite/registries.yaml" {
		t.Errorf("server default %q", o.cfg.Agent.PrivateRegistry)
	}
	// The server hands both to its own agent.
	c := agentConfigFor(server.LocalAgent{AgentOptions: server.AgentOptions{PrivateRegistry: file, DisableDefaultRegistryEndpoint: true}})
	if c.PrivateRegistry != file || !c.DisableDefaultRegistryEndpoint {
		t.Errorf("local agent config %+v", c)
	}
}
