package cli

import (
	"context"
	"log/slog"

	"github.com/distrobench/distrobench/distro/pkg/agent"
	"github.com/distrobench/distrobench/distro/pkg/server"
)

// runServerAgent is the server.AgentRunner of `k3lite server`: the agent of
// the server's own node, joined through loopback with the node token like
// any other agent. It lives here, not in pkg/server, so the control plane
// package does not link kubelet, containerd and flannel.
func runServerAgent(ctx context.Context, a server.LocalAgent, log *slog.Logger) error {
	return agent.Run(ctx, agentConfigFor(a), log)
}

func agentConfigFor(a server.LocalAgent) agent.Config {
	var self *agent.SelfImage
	if a.StaticPods != nil {
		self = &agent.SelfImage{Binary: a.StaticPods.Binary, Ref: a.StaticPods.Ref}
	}
	return agent.Config{
		SelfImage:     self,
		ServerURL:     a.ServerURL,
		Token:         a.Token,
		DataDir:       a.DataDir,
		NodeName:      a.NodeName,
		WithNodeID:    a.WithNodeID,
		NodeIPs:       a.NodeIPs,
		NodeLabels:    a.NodeLabels,
		NodeTaints:    a.NodeTaints,
		KubeletArgs:   a.KubeletArgs,
		KubeProxyArgs: a.KubeProxyArgs,

		PrivateRegistry:                a.PrivateRegistry,
		DisableDefaultRegistryEndpoint: a.DisableDefaultRegistryEndpoint,
	}
}
