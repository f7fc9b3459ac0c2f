package flannel

// Integration test: two simulated hosts (network namespaces on a bridge)
// run Start against a real `k3lite server --disable-agent`, and a TCP
// connection between addresses of their pod subnets must cross over the
// VXLAN (or host-gw) network flannel set up.
//
// Go threads and network namespaces do not mix, so each node runs in a
// child process: this test binary re-executed through
// `nsenter --net=/var/run/netns/X` with helperEnv set (see TestMain). The
// root network namespace is never changed: everything lives in namespaces
// the test creates and deletes.

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

const (
	// helperEnv carries the JSON nodeSpec of a child process.
	helperEnv = "K3LITE_FLANNEL_IT_NODE"
	// podPort is where each node's stand-in pod listens.
	podPort = 7777

	serverIP    = "10.99.0.254"
	hostNetMask = 24
	clusterCIDR = "10.42.0.0/16"
	// Upper bounds for a failing run, not measurements.
	serverReadyTimeout = 4 * time.Minute
	nodeReadyTimeout   = 4 * time.Minute
	dialTimeout        = 90 * time.Second
)

func TestMain(m *testing.M) {
	if spec := os.Getenv(helperEnv); spec != "" {
		os.Exit(runNodeHelper(spec))
	}
	os.Exit(m.Run())
}

// nodeSpec is what the parent tells a node child.
type nodeSpec struct {
	Config Config
	// AdminKubeconfig registers the Node, standing in for the kubelet, and
	// sets up the restricted user flannel runs as (Config.Kubeconfig is
	// replaced by that user's kubeconfig).
	AdminKubeconfig string
}

// nodeReport is the child's READY line.
type nodeReport struct {
	Subnet      string
	MTU         int
	PodIP       string
	IfaceMTU    int
	VXLAN       *vxlanFacts `json:",omitempty"`
	Annotations map[string]string
	NATRules    string
}

type vxlanFacts struct {
	VNI, Port, MTU int
	MAC            string
	VtepDev        string
}

// dialReport is the child's RESULT line.
type dialReport struct {
	Err string
	// PeerSaw is the source address the peer saw our connection come from.
	PeerSaw string
	// RouteDev and RouteGW describe the route this node takes to the peer pod.
	RouteDev, RouteGW string
}

// ---------------------------------------------------------------- parent --

func TestPodNetworkAcrossNodes(t *testing.T) {
	if testing.Short() {
		t.Skip("integration: needs root, iproute2, nsenter, iptables, nftables and a k3lite binary (K3LITE_BIN or built from ./cmd/k3lite)")
	}
	if os.Geteuid() != 0 {
		t.Fatal("integration test needs root: it creates network namespaces")
	}
	for _, tool := range []string{"ip", "nsenter", "iptables", "iptables-restore", "nft"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s not found (Debian: apt-get install iproute2 util-linux iptables nftables): %v", tool, err)
		}
	}
	bin := k3liteBinary(t)
	testBin, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}

	nets := newNetnsSet(t, fmt.Sprintf("k3lfl%d", os.Getpid()%100000))
	srv := nets.add("srv")
	nets.ip(srv, "link", "set", "lo", "up")
	nets.ip(srv, "link", "add", "br0", "type", "bridge")
	nets.ip(srv, "addr", "add", fmt.Sprintf("%s/%d", serverIP, hostNetMask), "dev", "br0")
	nets.ip(srv, "link", "set", "br0", "up")

	dir := t.TempDir()
	admin := startServer(t, bin, nets.path(srv), dir)
	nodeKC := filepath.Join(dir, "node.kubeconfig")
	rewriteServer(t, admin, nodeKC, "https://"+net.JoinHostPort(serverIP, "6443"))

	for i, tc := range []struct {
		name, backend string
		nft           bool
	}{
		{"vxlan", BackendVXLAN, false},
		{"host-gw", BackendHostGW, false},
		{"vxlan-nftables", BackendVXLAN, true},
	} {
		backend := tc.backend
		t.Run(tc.name, func(t *testing.T) {
			a := fmt.Sprintf("node-%d", 2*i+1)
			b := fmt.Sprintf("node-%d", 2*i+2)
			ipA := fmt.Sprintf("10.99.0.%d", 2*i+1)
			ipB := fmt.Sprintf("10.99.0.%d", 2*i+2)
			hostA := nets.addHost(srv, a, ipA)
			hostB := nets.addHost(srv, b, ipB)
			spec := func(name, ip string) nodeSpec {
				return nodeSpec{
					Config: Config{
						Kubeconfig: nodeKC, NodeName: name, NodeIP: ip, Backend: backend,
						ClusterCIDR: clusterCIDR, RunDir: filepath.Join(dir, name, "run"), NFTables: tc.nft,
					},
					AdminKubeconfig: nodeKC,
				}
			}
			ca := startNode(t, testBin, nets.path(hostA), spec(a, ipA), filepath.Join(dir, a+".log"))
			cb := startNode(t, testBin, nets.path(hostB), spec(b, ipB), filepath.Join(dir, b+".log"))

			var ra, rb nodeReport
			ca.expect("READY", nodeReadyTimeout, &ra)
			cb.expect("READY", nodeReadyTimeout, &rb)
			t.Logf("%s: subnet %s mtu %d pod %s; %s: subnet %s mtu %d pod %s", a, ra.Subnet, ra.MTU, ra.PodIP, b, rb.Subnet, rb.MTU, rb.PodIP)
			checkReport(t, backend, tc.nft, ipA, ra)
			checkReport(t, backend, tc.nft, ipB, rb)
			if ra.Subnet == rb.Subnet {
				t.Fatalf("both nodes got subnet %s", ra.Subnet)
			}

			ca.send(rb.PodIP)
			cb.send(ra.PodIP)
			var da, db dialReport
			ca.expect("RESULT", dialTimeout, &da)
			cb.expect("RESULT", dialTimeout, &db)
			checkDial(t, backend, a, ra.PodIP, ipB, da)
			checkDial(t, backend, b, rb.PodIP, ipA, db)
			t.Logf("%s -> %s: peer saw %s, route dev %s gw %q; %s -> %s: peer saw %s, route dev %s gw %q",
				ra.PodIP, rb.PodIP, da.PeerSaw, da.RouteDev, da.RouteGW, rb.PodIP, ra.PodIP, db.PeerSaw, db.RouteDev, db.RouteGW)

			// Closing stdin cancels Start's context: flannel must stop cleanly.
			for _, c := range []*child{ca, cb} {
				c.closeStdin()
				var stopped struct{ Err string }
				c.expect("STOPPED", 30*time.Second, &stopped)
				if stopped.Err != "" {
					t.Errorf("%s: Done reported %q after cancellation, want nil", c.name, stopped.Err)
				}
				c.wait()
			}
		})
	}
}

func checkReport(t *testing.T, backend string, nft bool, nodeIP string, r nodeReport) {
	t.Helper()
	_, cluster, _ := net.ParseCIDR(clusterCIDR)
	sip, sn, err := net.ParseCIDR(r.Subnet)
	if err != nil || !cluster.Contains(sip) || !sn.IP.Equal(sip) {
		t.Errorf("subnet %q is not a network inside %s", r.Subnet, clusterCIDR)
	}
	if want := expectedMTU(backend, r.IfaceMTU); r.MTU != want {
		t.Errorf("MTU %d, want %d (interface MTU %d, backend %s)", r.MTU, want, r.IfaceMTU, backend)
	}
	ann := func(k string) string { return r.Annotations[annotationPrefix+"/"+k] }
	if ann("backend-type") != backend || ann("public-ip") != nodeIP || ann("kube-subnet-manager") != "true" {
		t.Errorf("node annotations %v: want backend-type=%s public-ip=%s kube-subnet-manager=true", r.Annotations, backend, nodeIP)
	}
	if backend == BackendVXLAN {
		v := r.VXLAN
		if v == nil {
			t.Fatalf("no flannel.1 device on the vxlan node")
		}
		if v.VNI != VXLANVNI || v.Port != VXLANPort || v.MTU != r.MTU || v.VtepDev != "eth0" {
			t.Errorf("flannel.1: %+v, want VNI %d port %d MTU %d on eth0", *v, VXLANVNI, VXLANPort, r.MTU)
		}
		var bd struct {
			VNI     int
			VtepMAC string
		}
		if err := json.Unmarshal([]byte(ann("backend-data")), &bd); err != nil || bd.VtepMAC != v.MAC || bd.VNI != VXLANVNI {
			t.Errorf("backend-data %q does not announce flannel.1 (MAC %s, VNI %d): %v", ann("backend-data"), v.MAC, VXLANVNI, err)
		}
	} else if r.VXLAN != nil {
		t.Errorf("host-gw node has a flannel.1 device: %+v", *r.VXLAN)
	}
	// flannel's masquerade rule for pod traffic leaving the cluster network.
	want := "-s " + clusterCIDR + " ! -d 224.0.0.0/4 -m comment --comment \"flanneld masq\" -j MASQUERADE"
	if nft {
		want = "ip saddr " + clusterCIDR + " ip daddr != 224.0.0.0/4 masquerade"
	}
	if !strings.Contains(r.NATRules, want) {
		t.Errorf("no masquerade rule %q for %s:\n%s", want, clusterCIDR, r.NATRules)
	}
}

func checkDial(t *testing.T, backend, name, podIP, peerNodeIP string, d dialReport) {
	t.Helper()
	if d.Err != "" {
		t.Errorf("%s: pod-to-pod TCP connection failed: %s", name, d.Err)
		return
	}
	// Inside the cluster network the source address stays the pod's.
	if d.PeerSaw != podIP {
		t.Errorf("%s: the peer saw the connection from %s, want %s (no NAT between pods)", name, d.PeerSaw, podIP)
	}
	switch backend {
	case BackendVXLAN:
		if d.RouteDev != "flannel.1" {
			t.Errorf("%s: route to the peer pod goes via %s (gw %s), want flannel.1", name, d.RouteDev, d.RouteGW)
		}
	case BackendHostGW:
		if d.RouteDev != "eth0" || d.RouteGW != peerNodeIP {
			t.Errorf("%s: route to the peer pod goes via %s gw %s, want eth0 gw %s", name, d.RouteDev, d.RouteGW, peerNodeIP)
		}
	}
}

// k3liteBinary returns $K3LITE_BIN or builds cmd/k3lite of this module.
func k3liteBinary(t *testing.T) string {
	if bin := os.Getenv("K3LITE_BIN"); bin != "" {
		return bin
	}
	bin := filepath.Join(t.TempDir(), "k3lite")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/k3lite")
	cmd.Dir = filepath.Join("..", "..")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	t.Logf("building k3lite (set K3LITE_BIN to reuse a binary)")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/k3lite: %v\n%s", err, out)
	}
	return bin
}

// startServer runs `k3lite server --disable-agent` inside netns and
// returns its admin kubeconfig once written.
func startServer(t *testing.T, bin, netns, dir string) string {
	t.Helper()
	kc := filepath.Join(dir, "admin.kubeconfig")
	logPath := filepath.Join(dir, "server.log")
	logf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("nsenter", "--net="+netns, "--", bin, "server", "--disable-agent",
		"--data-dir", filepath.Join(dir, "server"), "--write-kubeconfig", kc,
		"--node-ip", serverIP, "--advertise-address", serverIP, "--tls-san", serverIP,
		"--cluster-cidr", clusterCIDR)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start k3lite server: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait(); logf.Close() }()
	t.Cleanup(func() { stopProcess(t, cmd.Process.Pid, exited, 20*time.Second) })

	ctx, cancel := context.WithTimeout(context.Background(), serverReadyTimeout)
	defer cancel()
	err = wait.PollUntilContextCancel(ctx, 500*time.Millisecond, true, func(context.Context) (bool, error) {
		select {
		case err := <-exited:
			exited <- err // for the cleanup
			return false, fmt.Errorf("k3lite server exited: %w", err)
		default:
		}
		_, err := os.Stat(kc)
		return err == nil, nil
	})
	if err != nil {
		t.Fatalf("k3lite server not up: %v\n%s", err, tail(logPath))
	}
	return kc
}

// rewriteServer copies kubeconfig src to dst with every cluster pointing at url.
func rewriteServer(t *testing.T, src, dst, url string) {
	t.Helper()
	cfg, err := clientcmd.LoadFromFile(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cfg.Clusters {
		c.Server = url
	}
	if err := clientcmd.WriteToFile(*cfg, dst); err != nil {
		t.Fatal(err)
	}
}

// stopProcess ends a process group this test started: SIGTERM, then
// SIGKILL after grace.
func stopProcess(t *testing.T, pid int, exited chan error, grace time.Duration) {
	_ = syscall.Kill(-pid, syscall.SIGTERM)
	select {
	case err := <-exited:
		t.Logf("process %d stopped: %v", pid, err)
	case <-time.After(grace):
		t.Logf("process %d did not stop within %s; killing it", pid, grace)
		_ = syscall.Kill(-pid, syscall.SIGKILL)
		t.Logf("process %d killed: %v", pid, <-exited)
	}
}

// netnsSet creates network namespaces and deletes them at cleanup.
type netnsSet struct {
	t      *testing.T
	prefix string
	n      int
}

func newNetnsSet(t *testing.T, prefix string) *netnsSet {
	return &netnsSet{t: t, prefix: prefix}
}

func (s *netnsSet) path(name string) string { return "/var/run/netns/" + name }

func (s *netnsSet) add(suffix string) string {
	s.t.Helper()
	name := s.prefix + "-" + suffix
	if out, err := exec.Command("ip", "netns", "add", name).CombinedOutput(); err != nil {
		s.t.Fatalf("ip netns add %s: %v: %s", name, err, out)
	}
	// Registered on the top-level test so namespaces outlive subtests'
	// children (cleanups run in reverse order: children stop first).
	s.t.Cleanup(func() {
		if out, err := exec.Command("ip", "netns", "del", name).CombinedOutput(); err != nil {
			s.t.Errorf("ip netns del %s: %v: %s", name, err, out)
		}
	})
	return name
}

func (s *netnsSet) ip(netns string, args ...string) {
	s.t.Helper()
	args = append([]string{"-n", netns}, args...)
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		s.t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
	}
}

// addHost makes a simulated host: a namespace whose eth0 (a veth) sits on
// the bridge in netns hub, with address ip.
func (s *netnsSet) addHost(hub, name, ip string) string {
	s.t.Helper()
	ns := s.add(name)
	s.n++
	port := fmt.Sprintf("vh%d", s.n)
	s.ip(ns, "link", "set", "lo", "up")
	s.ip(hub, "link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", ns)
	s.ip(hub, "link", "set", port, "master", "br0", "up")
	s.ip(ns, "addr", "add", fmt.Sprintf("%s/%d", ip, hostNetMask), "dev", "eth0")
	s.ip(ns, "link", "set", "eth0", "up")
	return ns
}

// child is a node helper process.
type child struct {
	t      *testing.T
	name   string
	pid    int
	log    string
	stdin  io.WriteCloser
	lines  chan string
	exited chan error
}

func startNode(t *testing.T, testBin, netns string, spec nodeSpec, logPath string) *child {
	t.Helper()
	js, err := json.Marshal(spec)
	if err != nil {
		t.Fatal(err)
	}
	logf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("nsenter", "--net="+netns, "--", testBin, "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"="+string(js))
	cmd.Stderr = logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start node helper %s: %v", spec.Config.NodeName, err)
	}
	c := &child{t: t, name: spec.Config.NodeName, pid: cmd.Process.Pid, log: logPath, stdin: stdin,
		lines: make(chan string, 1024), exited: make(chan error, 1)}
	// cmd.Wait closes the stdout pipe once the child has exited, so it is
	// called only after the reader has seen EOF: called concurrently, a
	// child's last line (STOPPED) was lost whenever the reader was slower
	// than the exit, as on a loaded machine. A child writes three lines;
	// the roomy buffer keeps the reader from blocking on a failed test
	// that stopped listening.
	readAll := make(chan struct{})
	go func() {
		defer close(readAll)
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			c.lines <- sc.Text()
		}
		close(c.lines)
	}()
	go func() { <-readAll; c.exited <- cmd.Wait(); logf.Close() }()
	t.Cleanup(func() {
		_ = stdin.Close()
		stopProcess(t, c.pid, c.exited, 30*time.Second)
		if t.Failed() {
			t.Logf("--- %s log (tail) ---\n%s", c.name, tail(c.log))
		}
	})
	return c
}

// expect waits for the line "TAG {json}" and decodes it into v.
func (c *child) expect(tag string, timeout time.Duration, v any) {
	c.t.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case line, ok := <-c.lines:
			if !ok {
				c.t.Fatalf("%s exited before %s (its log follows)", c.name, tag)
			}
			rest, found := strings.CutPrefix(line, tag+" ")
			if !found {
				continue
			}
			if err := json.Unmarshal([]byte(rest), v); err != nil {
				c.t.Fatalf("%s: bad %s line %q: %v", c.name, tag, line, err)
			}
			return
		case <-deadline:
			c.t.Fatalf("%s: no %s within %s (its log follows)", c.name, tag, timeout)
		}
	}
}

func (c *child) send(line string) {
	c.t.Helper()
	if _, err := io.WriteString(c.stdin, line+"\n"); err != nil {
		c.t.Fatalf("%s: %v", c.name, err)
	}
}

func (c *child) closeStdin() { _ = c.stdin.Close() }

func (c *child) wait() {
	c.t.Helper()
	select {
	case err := <-c.exited:
		c.exited <- err
		if err != nil {
			c.t.Errorf("%s exited: %v", c.name, err)
		}
	case <-time.After(30 * time.Second):
		c.t.Errorf("%s did not exit after STOPPED", c.name)
	}
}

func tail(path string) string {
	b, _ := os.ReadFile(path)
	const max = 6000
	if len(b) > max {
		b = b[len(b)-max:]
	}
	return string(b)
}

// ----------------------------------------------------------------- child --

// runNodeHelper is one simulated node, inside its own network namespace:
// register the Node, Start flannel, put a stand-in pod address of the
// node's subnet on a dummy device, report, then connect to the peer pod
// the parent names on stdin.
func runNodeHelper(specJSON string) int {
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	fail := func(err error) int {
		log.Error("node helper failed", "err", err)
		return 1
	}
	var spec nodeSpec
	if err := json.Unmarshal([]byte(specJSON), &spec); err != nil {
		return fail(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	cs, err := adminClient(spec.AdminKubeconfig)
	if err != nil {
		return fail(err)
	}
	if err := registerNode(ctx, cs, spec.Config.NodeName, spec.Config.NodeIP); err != nil {
		return fail(err)
	}
	// flannel runs with no more rights than the agent-controller user gets.
	spec.Config.Kubeconfig, err = restrictedKubeconfig(ctx, cs, spec.AdminKubeconfig, spec.Config.RunDir)
	if err != nil {
		return fail(err)
	}
	nw, err := Start(ctx, spec.Config, log)
	if err != nil {
		return fail(err)
	}

	podIP, err := addPodAddress(nw.Subnet)
	if err != nil {
		return fail(err)
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(podIP.String(), fmt.Sprint(podPort)))
	if err != nil {
		return fail(err)
	}
	defer ln.Close()
	go serveEcho(ln)

	rep, err := gatherFacts(ctx, cs, spec.Config, nw, podIP)
	if err != nil {
		return fail(err)
	}
	emit("READY", rep)

	in := bufio.NewScanner(os.Stdin)
	if in.Scan() {
		emit("RESULT", dialPeer(podIP, net.ParseIP(strings.TrimSpace(in.Text()))))
	}
	for in.Scan() { // until the parent closes stdin
	}
	cancel()
	select {
	case err := <-nw.Done:
		msg := ""
		if err != nil {
			msg = err.Error()
		}
		emit("STOPPED", struct{ Err string }{msg})
	case <-time.After(20 * time.Second):
		return fail(errors.New("flannel did not stop within 20s of cancellation"))
	}
	return 0
}

func emit(tag string, v any) {
	b, _ := json.Marshal(v)
	fmt.Printf("%s %s\n", tag, b)
}

func adminClient(kubeconfig string) (kubernetes.Interface, error) {
	rc, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return nil, err
	}
	return kubernetes.NewForConfig(rc)
}

// agentControllerRules are the rights the server grants
// system:k3lite-agent-controller (see bootstrap.CertAgentController); the
// test gives flannel exactly these, through a service account token.
var agentControllerRules = []rbacv1.PolicyRule{
	{APIGroups: []string{""}, Resources: []string{"nodes"}, Verbs: []string{"get", "list", "watch", "patch"}},
	{APIGroups: []string{""}, Resources: []string{"nodes/status"}, Verbs: []string{"patch"}},
}

// restrictedKubeconfig writes a kubeconfig for a service account bound to
// agentControllerRules (created if missing; both nodes race to create them).
func restrictedKubeconfig(ctx context.Context, cs kubernetes.Interface, adminPath, dir string) (string, error) {
	const name, ns = "k3lite-flannel-it", "kube-system"
	ignoreExists := func(_ any, err error) error {
		if apierrors.IsAlreadyExists(err) {
			return nil
		}
		return err
	}
	meta := metav1.ObjectMeta{Name: name}
	if err := ignoreExists(cs.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}}, metav1.CreateOptions{})); err != nil {
		return "", fmt.Errorf("service account: %w", err)
	}
	if err := ignoreExists(cs.RbacV1().ClusterRoles().Create(ctx, &rbacv1.ClusterRole{ObjectMeta: meta, Rules: agentControllerRules}, metav1.CreateOptions{})); err != nil {
		return "", fmt.Errorf("cluster role: %w", err)
	}
	if err := ignoreExists(cs.RbacV1().ClusterRoleBindings().Create(ctx, &rbacv1.ClusterRoleBinding{
		ObjectMeta: meta,
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: name},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: name, Namespace: ns}},
	}, metav1.CreateOptions{})); err != nil {
		return "", fmt.Errorf("cluster role binding: %w", err)
	}
	tr, err := cs.CoreV1().ServiceAccounts(ns).CreateToken(ctx, name, &authenticationv1.TokenRequest{}, metav1.CreateOptions{})
	if err != nil {
		return "", fmt.Errorf("token for %s/%s: %w", ns, name, err)
	}
	cfg, err := clientcmd.LoadFromFile(adminPath)
	if err != nil {
		return "", err
	}
	for _, ai := range cfg.AuthInfos {
		*ai = clientcmdapi.AuthInfo{Token: tr.Status.Token}
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	path := filepath.Join(dir, "flannel.kubeconfig")
	return path, clientcmd.WriteToFile(*cfg, path)
}

// registerNode creates the Node as a kubelet would (without a podCIDR:
// kube-controller-manager allocates it), retrying while the apiserver starts.
func registerNode(ctx context.Context, cs kubernetes.Interface, name, ip string) error {
	node := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Status:     corev1.NodeStatus{Addresses: []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: ip}}},
	}
	var last error
	ctx, cancel := context.WithTimeout(ctx, serverReadyTimeout)
	defer cancel()
	err := wait.PollUntilContextCancel(ctx, time.Second, true, func(ctx context.Context) (bool, error) {
		_, err := cs.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{})
		if err == nil || apierrors.IsAlreadyExists(err) {
			return true, nil
		}
		last = err
		return false, nil
	})
	if err != nil {
		return fmt.Errorf("register node %s: %w (last: %v)", name, err, last) //nolint:errorlint // last is context
	}
	return nil
}

// addPodAddress puts the subnet's .2 address on a bridge cni0 (where the
// agent's CNI bridge would be), as a stand-in for a pod. (No dummy device:
// this kernel has no dummy driver.)
func addPodAddress(subnet string) (net.IP, error) {
	_, sn, err := net.ParseCIDR(subnet)
	if err != nil {
		return nil, err
	}
	ip := sn.IP.To4()
	podIP := net.IPv4(ip[0], ip[1], ip[2], ip[3]+2).To4()
	br := &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: "cni0"}}
	if err := netlink.LinkAdd(br); err != nil {
		return nil, fmt.Errorf("add cni0: %w", err)
	}
	if err := netlink.AddrAdd(br, &netlink.Addr{IPNet: &net.IPNet{IP: podIP, Mask: sn.Mask}}); err != nil {
		return nil, fmt.Errorf("address cni0: %w", err)
	}
	if err := netlink.LinkSetUp(br); err != nil {
		return nil, fmt.Errorf("up cni0: %w", err)
	}
	return podIP, nil
}

// serveEcho answers each connection with the source address it came from.
func serveEcho(ln net.Listener) {
	for {
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		host, _, _ := net.SplitHostPort(conn.RemoteAddr().String())
		_, _ = fmt.Fprintf(conn, "%s\n", host)
		_ = conn.Close()
	}
}

func dialPeer(podIP, peer net.IP) dialReport {
	var rep dialReport
	if peer == nil {
		rep.Err = "parent sent no peer IP"
		return rep
	}
	if routes, err := netlink.RouteGet(peer); err == nil && len(routes) > 0 {
		if l, err := netlink.LinkByIndex(routes[0].LinkIndex); err == nil {
			rep.RouteDev = l.Attrs().Name
		}
		if routes[0].Gw != nil {
			rep.RouteGW = routes[0].Gw.String()
		}
	}
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: podIP}, Timeout: 2 * time.Second}
	addr := net.JoinHostPort(peer.String(), fmt.Sprint(podPort))
	deadline := time.Now().Add(dialTimeout - 10*time.Second)
	for {
		conn, err := d.Dial("tcp", addr)
		if err == nil {
			line, rerr := bufio.NewReader(conn).ReadString('\n')
			conn.Close()
			if rerr == nil {
				rep.PeerSaw, rep.Err = strings.TrimSpace(line), ""
				return rep
			}
			err = rerr
		}
		rep.Err = err.Error()
		// The peer's routes may still be on their way (its annotation has to
		// reach this node's informer first).
		if time.Now().After(deadline) {
			return rep
		}
		time.Sleep(500 * time.Millisecond)
	}
}

func gatherFacts(ctx context.Context, cs kubernetes.Interface, cfg Config, nw *Network, podIP net.IP) (nodeReport, error) {
	rep := nodeReport{Subnet: nw.Subnet, MTU: nw.MTU, PodIP: podIP.String()}
	eth, err := netlink.LinkByName("eth0")
	if err != nil {
		return rep, err
	}
	rep.IfaceMTU = eth.Attrs().MTU
	if l, err := netlink.LinkByName("flannel.1"); err == nil {
		vx, ok := l.(*netlink.Vxlan)
		if !ok {
			return rep, fmt.Errorf("flannel.1 is a %s, not vxlan", l.Type())
		}
		f := &vxlanFacts{VNI: vx.VxlanId, Port: vx.Port, MTU: vx.MTU, MAC: vx.HardwareAddr.String()}
		if dev, err := netlink.LinkByIndex(vx.VtepDevIndex); err == nil {
			f.VtepDev = dev.Attrs().Name
		}
		rep.VXLAN = f
	}
	node, err := cs.CoreV1().Nodes().Get(ctx, cfg.NodeName, metav1.GetOptions{})
	if err != nil {
		return rep, err
	}
	rep.Annotations = node.Annotations
	list := exec.Command("iptables", "-t", "nat", "-S", "FLANNEL-POSTRTG")
	if cfg.NFTables {
		list = exec.Command("nft", "list", "table", "ip", "flannel-ipv4")
	}
	out, err := list.CombinedOutput()
	rep.NATRules = string(out)
	if err != nil {
		rep.NATRules += fmt.Sprintf("\n(%s: %v)", list, err)
	}
	return rep, nil
}
