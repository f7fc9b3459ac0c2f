// Package bootstrap is the wire contract between `k3lite server` and
// `k3lite agent` for joining a node, in the spirit of K3s's /cacerts and
// /v1-k3s/* endpoints (served on the apiserver's port, before Kubernetes
// authentication; in the RKE2 style, on the supervisor port):
//
//   - GET  /cacerts                      the cluster CA bundle (PEM), unauthenticated;
//     the agent checks its SHA-256 against the hash inside the token
//     before trusting anything else.
//   - GET  /v1-k3lite/config             AgentConfig (JSON), node-token authenticated.
//   - POST /v1-k3lite/certs/{kind}       CertRequest -> CertResponse (JSON),
//     node-token authenticated; kind is one of the Cert* constants.
//
// Authentication: HTTP Basic with user "node" (or "server") and the token's
// secret, exactly the user:password part of a K10 token.
package bootstrap

import "path/filepath"

// Paths served by the server.
const (
	PathCACerts = "/cacerts"
	PathConfig  = "/v1-k3lite/config"
	// PathCerts is followed by one of the Cert* kinds.
	PathCerts = "/v1-k3lite/certs/"
)

// Kinds of certificate an agent may request.
const (
	// CertKubeletClient: CN system:node:<NodeName>, O system:nodes, signed by
	// the client CA (the Node authorizer and NodeRestriction apply to it).
	CertKubeletClient = "kubelet-client"
	// CertKubeletServing: CN system:node:<NodeName>, serving cert with the
	// request's IPs and DNSNames, signed by the server CA.
	CertKubeletServing = "kubelet-serving"
	// CertKubeProxy: CN system:kube-proxy (bound to system:node-proxier).
	CertKubeProxy = "kube-proxy"
	// CertAgentController: CN system:k3lite-agent-controller, used by the
	// agent's flannel to watch nodes and annotate its own node (bound by the
	// server to a ClusterRole allowing get/list/watch nodes, patch nodes and
	// nodes/status).
	CertAgentController = "agent-controller"
)

// AgentControllerCN is the user name of CertAgentController certificates.
const AgentControllerCN = "system:k3lite-agent-controller"

// CertRequest asks the server to sign a certificate for this node.
type CertRequest struct {
	NodeName string `json:"nodeName"`
	// CSR is a PEM "CERTIFICATE REQUEST" whose key stays on the agent; the
	// server ignores its subject and sets the one the kind prescribes.
	CSR string `json:"csr"`
	// IPs and DNSNames are the SANs of a kubelet-serving certificate.
	IPs      []string `json:"ips,omitempty"`
	DNSNames []string `json:"dnsNames,omitempty"`
}

// CertResponse carries the signed certificate and the CA that verifies the
// peer the certificate is used with.
type CertResponse struct {
	// Certificate is the PEM leaf (followed by its issuer if intermediate).
	Certificate string `json:"certificate"`
	// ClientCA is the PEM CA that signs client certificates (the kubelet
	// trusts it for its serving endpoint: --client-ca-file).
	ClientCA string `json:"clientCA"`
	// ServerCA is the PEM CA that signed the apiserver's serving certificate.
	ServerCA string `json:"serverCA"`
}

// AgentConfig is what an agent needs to know about the cluster it joins.
type AgentConfig struct {
	ClusterCIDR   string   `json:"clusterCIDR"`   // e.g. 10.42.0.0/16
	ServiceCIDR   string   `json:"serviceCIDR"`   // e.g. 10.43.0.0/16
	ClusterDNS    []string `json:"clusterDNS"`    // e.g. [10.43.0.10]
	ClusterDomain string   `json:"clusterDomain"` // e.g. cluster.local
	// FlannelBackend is vxlan (default), host-gw, or none (no pod network
	// between nodes is set up by the agent).
	FlannelBackend string `json:"flannelBackend"`
	// SandboxImage is the pause image every node must have imported.
	SandboxImage string `json:"sandboxImage"`
	// EmbeddedRegistry is the server's --embedded-registry (K3s's agents
	// learn it from the server the same way): every node then serves the
	// images of its own containerd as a read-only registry mirror on
	// 127.0.0.1 of its network namespace, the first endpoint of every
	// registry under mirrors: in its registries.yaml (package registry).
	EmbeddedRegistry bool `json:"embeddedRegistry,omitempty"`
	// APIServerPort, when not 0, is the port of the Kubernetes API on the
	// host of the agent's --server: a server in the RKE2 style serves the
	// join endpoints on a supervisor port of their own (9345) and the API
	// on 6443, as RKE2 does. 0: the API is at --server itself.
	APIServerPort int `json:"apiServerPort,omitempty"`
	// EgressSelectorMode etc. are not supported; the apiserver reaches
	// kubelets directly on their node IPs.
}

// PodManifestsDir is the kubelet's static pod directory of the node whose
// data dir is dataDir (K3s's agent/pod-manifests): the agent points its
// kubelet there and a server in the RKE2 style writes its control plane's
// manifests there.
func PodManifestsDir(dataDir string) string {
	return filepath.Join(dataDir, "agent", "pod-manifests")
}

// Images the cluster's own pieces use. They are built locally (no registry)
// and imported from <data-dir>/agent/images/*.tar on every agent start.
const (
	PauseImage   = "registry.k8s.io/pause:3.10.2"
	CoreDNSImage = "registry.k8s.io/coredns/coredns:v1.15.0"
)
