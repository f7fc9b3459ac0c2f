package agent

import (
	"context"
	"crypto"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	srvconfig "github.com/containerd/containerd/v2/cmd/containerd/server/config"
	toml "github.com/pelletier/go-toml/v2"
	"github.com/spf13/pflag"
	"k8s.io/client-go/tools/clientcmd"
	certutil "k8s.io/client-go/util/cert"

	"github.com/distrobench/distrobench/distro/pkg/bootstrap"
)

func validConfig() Config {
	return Config{ServerURL: "https://10.0.0.1:6443", Token: "K10" + strings.Repeat("a", 64) + "::node:secret", DataDir: "/var/lib/k3lite"}
}

func TestValidateReportsEveryProblem(t *testing.T) {
	c := Config{
		ServerURL:   "http://x:6443",
		NodeName:    "Bad_Name",
		NodeIPs:     []string{"10.0.0.300"},
		NodeLabels:  []string{"novalue"},
		NodeTaints:  []string{"k=v:Sometimes"},
		KubeletArgs: []string{"=1"},
	}
	err := c.Validate()
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{"--server", "--token", "--data-dir", "--node-name", "--node-ip", "--node-label", "--node-taint", "--kubelet-arg"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not mention %s: %v", want, err)
		}
	}
	good := validConfig()
	good.NodeTaints = []string{"dedicated=infra:NoSchedule", "gpu:NoExecute"}
	good.NodeLabels = []string{"tier=edge"}
	if err := good.Validate(); err != nil {
		t.Errorf("valid config rejected: %v", err)
	}
}

func TestComponentFlagsAndLastArg(t *testing.T) {
	got, err := componentFlags([]string{"cgroup-root=/k3lite/n1", "--v=4", "fail-swap-on"})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"--cgroup-root=/k3lite/n1", "--v=4", "--fail-swap-on"}
	if !slices.Equal(got, want) {
		t.Errorf("componentFlags = %q, want %q", got, want)
	}
	v, ok := lastArg([]string{"cgroup-root=/a", "v=2", "cgroup_root=/b"}, "cgroup-root")
	if !ok || v != "/b" {
		t.Errorf("lastArg = %q, %v; want the last one, with _ equal to -", v, ok)
	}
	if _, ok := lastArg([]string{"v=2"}, "cgroup-root"); ok {
		t.Error("lastArg found a missing key")
	}
}

func TestNodeNameWithPersistentID(t *testing.T) {
	idFile := filepath.Join(t.TempDir(), "agent", "node-id")
	n1, err := nodeName("worker-1", true, idFile)
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^worker-1-[0-9a-f]{8}$`).MatchString(n1) {
		t.Fatalf("name %q", n1)
	}
	n2, err := nodeName("worker-1", true, idFile)
	if err != nil || n2 != n1 {
		t.Errorf("second start named %q (%v), want %q: the id must persist", n2, err, n1)
	}
	if n, _ := nodeName("worker-1", false, idFile); n != "worker-1" {
		t.Errorf("without id: %q", n)
	}
	if err := os.WriteFile(idFile, []byte("xyz\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := nodeName("w", true, idFile); err == nil || !strings.Contains(err.Error(), idFile) {
		t.Errorf("corrupt id file: err = %v", err)
	}
	if _, err := nodeName("Not_A_Name", false, idFile); err == nil {
		t.Error("invalid node name accepted")
	}
}

func TestNodeNameDefaultsToLowerCaseHostname(t *testing.T) {
	h, err := os.Hostname()
	if err != nil {
		t.Fatalf("hostname: %v", err)
	}
	n, err := nodeName("", false, "")
	if err != nil {
		t.Fatal(err)
	}
	if n != strings.ToLower(h) {
		t.Errorf("name %q, want %q", n, strings.ToLower(h))
	}
}

func TestNodeIPsGivenWin(t *testing.T) {
	ips, err := nodeIPs([]string{"10.1.2.3"})
	if err != nil || len(ips) != 1 || !ips[0].Equal(net.ParseIP("10.1.2.3")) {
		t.Errorf("nodeIPs = %v, %v", ips, err)
	}
	if _, err := nodeIPs([]string{"nope"}); err == nil {
		t.Error("bad IP accepted")
	}
}

func TestContainerdConfigIsAcceptedByContainerd(t *testing.T) {
	dir := t.TempDir()
	p := newPaths(filepath.Join(dir, `data "dir"`)) // quotes must survive
	b, err := containerdConfig(p, "/opt/k3lite/bin", bootstrap.PauseImage, nil)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "config.toml")
	if err := os.WriteFile(file, b, 0o600); err != nil {
		t.Fatal(err)
	}
	// containerd's own loader: version 3, no unknown top-level keys.
	var cfg srvconfig.Config
	if err := srvconfig.LoadConfig(t.Context(), file, &cfg); err != nil {
		t.Fatalf("containerd rejects the config: %v\n%s", err, b)
	}
	//nolint:staticcheck // SA1019: [grpc] address is still what containerd v2.4 reads for its main socket.
	if cfg.Version != 3 || cfg.Root != p.containerdRoot || cfg.State != p.containerdState || cfg.GRPC.Address != p.containerdSocket {
		t.Errorf("version %d root %q state %q socket %q", cfg.Version, cfg.Root, cfg.State, cfg.GRPC.Address) //nolint:staticcheck // as above
	}

	var raw struct {
		Plugins map[string]map[string]any `toml:"plugins"`
	}
	if err := toml.Unmarshal(b, &raw); err != nil {
		t.Fatal(err)
	}
	rt := raw.Plugins["io.containerd.cri.v1.runtime"]
	if rt["restrict_oom_score_adj"] != true {
		t.Errorf("restrict_oom_score_adj = %v (required on this machine kind)", rt["restrict_oom_score_adj"])
	}
	runc := rt["containerd"].(map[string]any)["runtimes"].(map[string]any)["runc"].(map[string]any)
	opts := runc["options"].(map[string]any)
	if opts["BinaryName"] != "/opt/k3lite/bin/runc" || opts["SystemdCgroup"] != false || runc["runtime_type"] != "io.containerd.runc.v2" {
		t.Errorf("runc runtime = %v", runc)
	}
	cni := rt["cni"].(map[string]any)
	if bins := cni["bin_dirs"].([]any); len(bins) != 1 || bins[0] != "/opt/k3lite/bin" || cni["conf_dir"] != p.cniConfDir {
		t.Errorf("cni = %v", cni)
	}
	img := raw.Plugins["io.containerd.cri.v1.images"]
	if img["snapshotter"] != "overlayfs" || img["pinned_images"].(map[string]any)["sandbox"] != bootstrap.PauseImage {
		t.Errorf("images = %v", img)
	}
	// Registries are configured in the node's own hosts directory only
	// (never the host's /etc/containerd/certs.d); no credentials without
	// a registries.yaml.
	if reg, ok := img["registry"].(map[string]any); !ok || len(reg) != 1 || reg["config_path"] != p.registryHosts {
		t.Errorf("registry = %v, want only config_path = %s", img["registry"], p.registryHosts)
	}
}

func TestKubeletConfigurationLoadsAndFlagsWin(t *testing.T) {
	dir := t.TempDir()
	p := newPaths(dir)
	cluster := &bootstrap.AgentConfig{ClusterDNS: []string{"10.43.0.10"}, ClusterDomain: "cluster.local"}
	b, err := encodeKubeletConfiguration(kubeletConfiguration(p, cluster, "unix:///run/c.sock", "/etc/resolv.conf"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"failCgroupV1: false", "cgroupDriver: cgroupfs", "kind: KubeletConfiguration", "mode: Webhook", "imageGCHighThresholdPercent: 100", "failSwapOn: false"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("kubelet config lacks %q:\n%s", want, b)
		}
	}
	if err := os.MkdirAll(filepath.Dir(p.kubeletConfig), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p.kubeletConfig, b, 0o600); err != nil {
		t.Fatal(err)
	}
	args, err := kubeletArgs(p, "n1", []net.IP{net.ParseIP("10.0.0.2")}, []string{"a=b"}, []string{"k=v:NoSchedule"},
		[]string{"cgroup-root=/k3lite/n1", "max-pods=42", "cluster-domain=example.org"})
	if err != nil {
		t.Fatal(err)
	}
	// k3lite's command line replaces the global flag set that Kubernetes
	// packages register flags on; the kubelet must not depend on it.
	saved := pflag.CommandLine
	pflag.CommandLine = pflag.NewFlagSet("k3lite", pflag.ContinueOnError)
	t.Cleanup(func() { pflag.CommandLine = saved })
	k, err := prepareKubelet(p.kubeletConfig, append(args, "--v=0"))
	if err != nil {
		t.Fatalf("kubelet rejects k3lite's configuration: %v", err)
	}
	s := k.server
	if s.HostnameOverride != "n1" || s.NodeIP != "10.0.0.2" || s.RootDirectory != p.kubeletRoot || s.KubeConfig != p.kubeletKubeconfig {
		t.Errorf("flags: hostname %q ip %q root %q kubeconfig %q", s.HostnameOverride, s.NodeIP, s.RootDirectory, s.KubeConfig)
	}
	if s.CgroupRoot != "/k3lite/n1" || s.MaxPods != 42 {
		t.Errorf("--kubelet-arg not applied: cgroupRoot %q maxPods %d", s.CgroupRoot, s.MaxPods)
	}
	if s.ClusterDomain != "example.org" {
		t.Errorf("clusterDomain %q: a --kubelet-arg must win over the config file", s.ClusterDomain)
	}
	if s.FailCgroupV1 || s.CgroupDriver != "cgroupfs" || s.ContainerRuntimeEndpoint != "unix:///run/c.sock" || len(s.ClusterDNS) != 1 {
		t.Errorf("config file not applied: failCgroupV1 %v driver %q endpoint %q dns %v", s.FailCgroupV1, s.CgroupDriver, s.ContainerRuntimeEndpoint, s.ClusterDNS)
	}
	if s.NodeLabels["a"] != "b" || len(s.RegisterWithTaints) != 1 {
		t.Errorf("labels %v taints %v", s.NodeLabels, s.RegisterWithTaints)
	}

	if _, err := prepareKubelet(p.kubeletConfig, append(args, "--no-such-flag=1")); err == nil || !strings.Contains(err.Error(), "no-such-flag") {
		t.Errorf("unknown kubelet flag: err = %v", err)
	}
}

func TestKubeProxyArgsParse(t *testing.T) {
	p := newPaths(t.TempDir())
	args, err := kubeProxyArgs(p, "n1", "10.42.0.0/16", []string{"proxy-mode=nftables"})
	if err != nil {
		t.Fatal(err)
	}
	saved := pflag.CommandLine
	pflag.CommandLine = pflag.NewFlagSet("k3lite", pflag.ContinueOnError)
	t.Cleanup(func() { pflag.CommandLine = saved })
	if _, err := prepareKubeProxy(append(args, "--v=0")); err != nil {
		t.Fatalf("kube-proxy rejects k3lite's flags: %v", err)
	}
	if args[len(args)-1] != "--proxy-mode=nftables" {
		t.Errorf("user args must come last: %q", args)
	}
	if _, err := prepareKubeProxy(append(args, "--proxy-mode=ipvs-nope")); err == nil {
		t.Error("invalid proxy mode accepted")
	}
}

func TestCNIConflist(t *testing.T) {
	b, err := cniConflist([]string{"10.42.1.0/24"}, 1450, false, "/data/node1/agent/cni/networks")
	if err != nil {
		t.Fatal(err)
	}
	var conf struct {
		CNIVersion string `json:"cniVersion"`
		Plugins    []struct {
			Type      string `json:"type"`
			Bridge    string `json:"bridge"`
			IsGateway bool   `json:"isGateway"`
			IPMasq    bool   `json:"ipMasq"`
			Hairpin   bool   `json:"hairpinMode"`
			MTU       int    `json:"mtu"`
			IPAM      struct {
				Type    string                `json:"type"`
				Ranges  [][]map[string]string `json:"ranges"`
				Routes  []map[string]string   `json:"routes"`
				DataDir string                `json:"dataDir"`
			} `json:"ipam"`
			Capabilities map[string]bool `json:"capabilities"`
		} `json:"plugins"`
	}
	if err := json.Unmarshal(b, &conf); err != nil {
		t.Fatal(err)
	}
	if len(conf.Plugins) != 2 || conf.Plugins[0].Type != "bridge" || conf.Plugins[1].Type != "portmap" {
		t.Fatalf("plugins: %s", b)
	}
	br := conf.Plugins[0]
	if br.Bridge != "cni0" || !br.IsGateway || br.IPMasq || !br.Hairpin || br.MTU != 1450 {
		t.Errorf("bridge: %+v", br)
	}
	if br.IPAM.Type != "host-local" || br.IPAM.Ranges[0][0]["subnet"] != "10.42.1.0/24" || br.IPAM.Routes[0]["dst"] != "0.0.0.0/0" {
		t.Errorf("ipam: %+v", br.IPAM)
	}
	// The node's own allocations, not the machine's /var/lib/cni/networks
	// that every simulated host would share.
	if br.IPAM.DataDir != "/data/node1/agent/cni/networks" {
		t.Errorf("ipam dataDir %q, want the node's own", br.IPAM.DataDir)
	}
	if !conf.Plugins[1].Capabilities["portMappings"] {
		t.Error("portmap must declare the portMappings capability")
	}
	if b, _ := cniConflist([]string{"10.42.1.0/24"}, 0, true, "/x"); !strings.Contains(string(b), `"mtu": 1500`) || !strings.Contains(string(b), `"ipMasq": true`) {
		t.Errorf("without flannel: want MTU 1500 and ipMasq: %s", b)
	}
	if _, err := cniConflist(nil, 0, true, "/x"); err == nil {
		t.Error("no podCIDR accepted")
	}
}

func TestImageArchivesListsOnlyTarballs(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []string{"b.tar", "a.tar.zst", ".imported", "notes.txt", "c.tar.gz"} {
		if err := os.WriteFile(filepath.Join(dir, n), nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	got, err := imageArchives(dir)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"a.tar.zst", "b.tar", "c.tar.gz"}; !slices.Equal(got, want) {
		t.Errorf("archives = %q, want %q", got, want)
	}
	if got, err := imageArchives(filepath.Join(dir, "missing")); err != nil || got != nil {
		t.Errorf("missing dir: %v %v", got, err)
	}
}

func TestResolvConfSkipsLoopbackResolvers(t *testing.T) {
	dir := t.TempDir()
	p := newPaths(dir)
	host := filepath.Join(dir, "host-resolv.conf")
	if err := os.WriteFile(host, []byte("nameserver 127.0.0.53\nsearch x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := kubeletResolvConf(p, host)
	if err != nil || got != p.resolvConf {
		t.Fatalf("loopback-only resolv.conf: got %q, %v", got, err)
	}
	if err := os.WriteFile(host, []byte("nameserver 127.0.0.53\nnameserver 192.168.1.1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got, _ := kubeletResolvConf(p, host); got != host {
		t.Errorf("usable resolv.conf replaced: %q", got)
	}
}

func TestContainerdEnvPutsBinDirFirst(t *testing.T) {
	t.Setenv("PATH", "/usr/bin:/bin")
	c := &containerdProcess{binDir: "/d/bin"}
	var path string
	n := 0
	for _, e := range c.env() {
		if v, ok := strings.CutPrefix(e, "PATH="); ok {
			path = v
			n++
		}
	}
	if n != 1 || path != "/d/bin:/usr/bin:/bin" {
		t.Errorf("PATH entries %d, PATH=%q", n, path)
	}
}

func parseCSR(b []byte) (*x509.CertificateRequest, error) {
	block, _ := pem.Decode(b)
	if block == nil || block.Type != "CERTIFICATE REQUEST" {
		return nil, errors.New("no PEM certificate request")
	}
	return x509.ParseCertificateRequest(block.Bytes)
}

type fakeSigner struct {
	cert  []byte
	calls map[string]bootstrap.CertRequest
}

func (f *fakeSigner) Sign(_ context.Context, kind string, req bootstrap.CertRequest) (*bootstrap.CertResponse, error) {
	f.calls[kind] = req
	return &bootstrap.CertResponse{Certificate: string(f.cert), ClientCA: "client-ca\n", ServerCA: "server-ca\n"}, nil
}

func TestObtainCertsKeepsKeysAndWritesKubeconfigs(t *testing.T) {
	certPEM, _, err := certutil.GenerateSelfSignedCertKey("test", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	p := newPaths(t.TempDir())
	s := &fakeSigner{cert: certPEM, calls: map[string]bootstrap.CertRequest{}}
	ips := []net.IP{net.ParseIP("10.0.0.2")}
	if err := obtainCerts(t.Context(), s, p, "n1", ips, []string{"n1"}); err != nil {
		t.Fatal(err)
	}
	if len(s.calls) != 4 {
		t.Fatalf("requested %d kinds, want 4", len(s.calls))
	}
	serving := s.calls[bootstrap.CertKubeletServing]
	if serving.NodeName != "n1" || !slices.Equal(serving.IPs, []string{"10.0.0.2"}) || !slices.Equal(serving.DNSNames, []string{"n1"}) {
		t.Errorf("serving request = %+v", serving)
	}
	if len(s.calls[bootstrap.CertKubeletClient].IPs) != 0 {
		t.Error("a client certificate request carries SANs")
	}
	csr, err := parseCSR([]byte(serving.CSR))
	if err != nil {
		t.Fatalf("CSR: %v", err)
	}
	key1, err := os.ReadFile(p.kubeletServingKey)
	if err != nil {
		t.Fatal(err)
	}
	if err := obtainCerts(t.Context(), s, p, "n1", ips, []string{"n1"}); err != nil {
		t.Fatal(err)
	}
	key2, _ := os.ReadFile(p.kubeletServingKey)
	if string(key1) != string(key2) {
		t.Error("the key changed across restarts")
	}
	csr2, _ := parseCSR([]byte(s.calls[bootstrap.CertKubeletServing].CSR))
	if !csr.PublicKey.(interface{ Equal(crypto.PublicKey) bool }).Equal(csr2.PublicKey) {
		t.Error("the CSR's key changed across restarts")
	}
	for _, f := range []string{p.clientCA, p.serverCA, p.kubeletClientCert, p.kubeProxyCert, p.controllerCert} {
		if _, err := os.Stat(f); err != nil {
			t.Errorf("missing %s", f)
		}
	}

	if err := writeKubeconfigs(p, "https://10.0.0.1:6443"); err != nil {
		t.Fatal(err)
	}
	cfg, err := clientcmd.LoadFromFile(p.kubeletKubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	ctx := cfg.Contexts[cfg.CurrentContext]
	if cfg.Clusters[ctx.Cluster].Server != "https://10.0.0.1:6443" || cfg.Clusters[ctx.Cluster].CertificateAuthority != p.serverCA ||
		cfg.AuthInfos[ctx.AuthInfo].ClientCertificate != p.kubeletClientCert || cfg.AuthInfos[ctx.AuthInfo].ClientKey != p.kubeletClientKey {
		t.Errorf("kubelet kubeconfig = %+v %+v", cfg.Clusters[ctx.Cluster], cfg.AuthInfos[ctx.AuthInfo])
	}
}

// TestContainerdSupervisorRestartsAndStops runs a stand-in for containerd
// (a shell script) under the supervisor.
func TestContainerdSupervisorRestartsAndStops(t *testing.T) {
	dir := t.TempDir()
	pids := filepath.Join(dir, "pids")
	exe := filepath.Join(dir, "fake-containerd")
	script := "#!/bin/sh\necho $$ >> " + pids + "\ntrap 'echo term >> " + pids + "; exit 0' TERM\nwhile :; do sleep 0.05; done\n"
	if err := os.WriteFile(exe, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	p := newPaths(dir)
	c := newContainerdProcess(p, dir, slog.New(slog.NewTextHandler(io.Discard, nil)))
	c.exe, c.restartDelay, c.stopGrace = exe, 10*time.Millisecond, 5*time.Second
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	readPIDs := func() []string {
		b, _ := os.ReadFile(pids)
		return strings.Fields(string(b))
	}
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s; pids file: %q", what, readPIDs())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	waitFor("first start", func() bool { return len(readPIDs()) >= 1 })
	first, _ := strconv.Atoi(readPIDs()[0])
	if pgid, err := syscall.Getpgid(first); err != nil || pgid != first {
		t.Errorf("child pgid %d (%v), want its own group %d", pgid, err, first)
	}
	if err := syscall.Kill(first, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitFor("restart", func() bool { return len(readPIDs()) >= 2 })
	second, _ := strconv.Atoi(readPIDs()[1])
	c.Stop()
	if got := readPIDs(); got[len(got)-1] != "term" {
		t.Errorf("the child was not stopped with SIGTERM: %q", got)
	}
	if err := syscall.Kill(second, 0); err == nil {
		t.Errorf("child %d still running after Stop", second)
	}
	c.Stop() // idempotent
}

func TestContainerdSocketPathFitsTheUnixLimit(t *testing.T) {
	short := "/var/lib/k3lite/agent/run/containerd/containerd.sock"
	if got := containerdSocketPath(short); got != short {
		t.Errorf("short path moved: %s", got)
	}
	long := "/work/main/_output/runs/20261127T063029Z-k3s-sqlite/server-data/agent/run/containerd/containerd.sock"
	got := containerdSocketPath(long)
	if len(got)+len(".ttrpc") > 104 || !strings.HasPrefix(got, socketFallbackDir+"/") {
		t.Errorf("long path %s -> %s", long, got)
	}
	if got != containerdSocketPath(long) || got == containerdSocketPath(long+"x") {
		t.Error("fallback path must be stable per data dir and differ between data dirs")
	}
}

func TestAPIServerURL(t *testing.T) {
	for _, tc := range []struct {
		server string
		port   int
		want   string
	}{
		{"https://10.0.0.1:6443", 0, "https://10.0.0.1:6443"},
		{"https://10.0.0.1:9345", 6443, "https://10.0.0.1:6443"},
		{"https://[fd00::1]:9345", 6443, "https://[fd00::1]:6443"},
		{"https://server.example:9345", 6443, "https://server.example:6443"},
	} {
		if got, err := apiServerURL(tc.server, tc.port); err != nil || got != tc.want {
			t.Errorf("apiServerURL(%s, %d) = %q, %v; want %q", tc.server, tc.port, got, err, tc.want)
		}
	}
}
