package nodes

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/distrobench/distrobench/suites/framework"
)

// ClusterDomain is the cluster's DNS domain (K3s's default, which k3lite keeps).
const ClusterDomain = "cluster.local"

// The network specs share one server pod (agnhost netexec) on the first
// node, one client pod (agnhost netexec too) on another node, and Services in front of
// the server; every check runs from the client through exec, so the traffic
// crosses from one node to the other.
var _ = describe("Pod network across nodes", Ordered, Label(framework.LabelNetwork, framework.LabelMultiNode), func() {
	var (
		ns                     string
		serverNode, clientNode corev1.Node
		nodes                  []corev1.Node
		server                 *corev1.Pod
	)
	serverLabels := map[string]string{"app": "netexec"}

	BeforeAll(func(ctx SpecContext) {
		nodes = framework.RequireReadyNodes(ctx, 2)
		serverNode, clientNode = nodes[0], nodes[1]
		ns = framework.NewNamespace(ctx, "net").Name
		framework.CreatePod(ctx, ns, podOn("server", serverNode.Name, serverLabels, netexec()))
		framework.CreatePod(ctx, ns, podOn("client", clientNode.Name, nil, netexecNamed("client")))
		server = framework.WaitForPodRunning(ctx, ns, "server")
		framework.WaitForPodRunning(ctx, ns, "client")
		Expect(server.Spec.NodeName).To(Equal(serverNode.Name))
	}, NodeTimeout(framework.Timeout(3*time.Minute)))

	// fetch GETs url from the client pod and returns the body. The client
	// is agnhost netexec: its /dial endpoint makes the request with Go's
	// HTTP client and resolver, as upstream's e2e network tests do, so the
	// check measures the cluster's DNS and Services, not a client's quirks
	// (a static busybox's libc resolver, for one, cannot use NSS). The exec
	// only talks to netexec on 127.0.0.1.
	fetch := func(ctx context.Context, rawURL string) (string, error) {
		u, err := url.Parse(rawURL)
		if err != nil {
			return "", err
		}
		port := u.Port()
		if port == "" {
			port = "80"
		}
		q := url.Values{"request": {strings.TrimPrefix(u.Path, "/")}, "host": {u.Hostname()}, "port": {port},
			"protocol": {"http"}, "tries": {"1"}}
		req := fmt.Sprintf(`printf 'GET /dial?%s HTTP/1.0\r\n\r\n' | nc 127.0.0.1 %d`, q.Encode(), netexecPort)
		out, _, err := framework.ExecInPod(ctx, ns, "client", "client", "sh", "-c", req)
		if err != nil {
			return "", err
		}
		_, body, ok := strings.Cut(out, "\r\n\r\n")
		if !ok {
			return "", fmt.Errorf("no HTTP response from netexec /dial: %q", out)
		}
		var dial struct {
			Responses []string `json:"responses"`
			Errors    []string `json:"errors"`
		}
		if err := json.Unmarshal([]byte(body), &dial); err != nil {
			return "", fmt.Errorf("netexec /dial answered %q: %w", body, err)
		}
		if len(dial.Responses) == 0 {
			return "", fmt.Errorf("GET %s from the client failed: %v", rawURL, dial.Errors)
		}
		return strings.TrimSpace(dial.Responses[0]), nil
	}
	// expectServer checks that url, fetched from the client pod, reaches the
	// server pod's /hostname (which answers the pod's name).
	expectServer := func(ctx context.Context, url, what string) {
		GinkgoHelper()
		Eventually(fetch).WithContext(ctx).WithArguments(url).
			WithTimeout(framework.Timeout(time.Minute)).WithPolling(2*time.Second).
			Should(Equal("server"), "%s: GET %s from pod client on node %s must reach pod server on node %s",
				what, url, clientNode.Name, serverNode.Name)
	}

	It("reaches a pod on another node by its pod IP", func(ctx SpecContext) {
		Expect(server.Status.PodIP).NotTo(BeEmpty())
		expectServer(ctx, fmt.Sprintf("http://%s/hostname", hostPort(server.Status.PodIP, netexecPort)), "pod to pod across nodes")
	}, SpecTimeout(framework.Timeout(2*time.Minute)))

	Context("through a ClusterIP Service", func() {
		var svc *corev1.Service

		BeforeAll(func(ctx SpecContext) {
			var err error
			svc, err = framework.ClientSet().CoreV1().Services(ns).Create(ctx, &corev1.Service{
				ObjectMeta: metav1.ObjectMeta{Name: "netexec"},
				Spec: corev1.ServiceSpec{
					Selector: serverLabels,
					Ports:    []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromInt32(netexecPort)}},
				},
			}, metav1.CreateOptions{})
			Expect(err).NotTo(HaveOccurred())
			Expect(svc.Spec.ClusterIP).NotTo(Or(BeEmpty(), Equal(corev1.ClusterIPNone)))
		}, NodeTimeout(framework.Timeout(time.Minute)))

		It("reaches the Service's ClusterIP from a pod on another node", func(ctx SpecContext) {
			expectServer(ctx, fmt.Sprintf("http://%s/hostname", hostPort(svc.Spec.ClusterIP, 80)), "ClusterIP (kube-proxy)")
		}, SpecTimeout(framework.Timeout(2*time.Minute)))

		It("resolves the Service's DNS name on another node", Label(framework.LabelDNS), func(ctx SpecContext) {
			fqdn := fmt.Sprintf("%s.%s.svc.%s", svc.Name, ns, ClusterDomain)
			Eventually(func(ctx context.Context) (string, error) {
				out, _, err := framework.ExecInPod(ctx, ns, "client", "client", "nslookup", fqdn)
				return out, err
			}).WithContext(ctx).WithTimeout(framework.Timeout(time.Minute)).WithPolling(2*time.Second).
				Should(ContainSubstring(svc.Spec.ClusterIP), "nslookup %s in pod client on node %s must answer the ClusterIP (is CoreDNS running at the pod's nameserver?)",
					fqdn, clientNode.Name)

			By("reaching the Service by its short name through the pod's search path")
			expectServer(ctx, fmt.Sprintf("http://%s/hostname", svc.Name), "Service by DNS name")
		}, SpecTimeout(framework.Timeout(3*time.Minute)))
	})

	It("reaches a NodePort Service on every node's InternalIP", Label(framework.LabelNodePort), func(ctx SpecContext) {
		svc, err := framework.ClientSet().CoreV1().Services(ns).Create(ctx, &corev1.Service{
			ObjectMeta: metav1.ObjectMeta{Name: "netexec-nodeport"},
			Spec: corev1.ServiceSpec{
				Type:     corev1.ServiceTypeNodePort,
				Selector: serverLabels,
				Ports:    []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromInt32(netexecPort)}},
			},
		}, metav1.CreateOptions{})
		Expect(err).NotTo(HaveOccurred())
		port := svc.Spec.Ports[0].NodePort
		Expect(port).NotTo(BeZero(), "the API server must allocate a node port")
		for _, n := range nodes {
			ip := framework.NodeInternalIP(&n)
			Expect(ip).NotTo(BeEmpty(), "node %s has no InternalIP address", n.Name)
			expectServer(ctx, fmt.Sprintf("http://%s/hostname", hostPort(ip, port)), "NodePort on node "+n.Name)
		}
	}, SpecTimeout(framework.Timeout(4*time.Minute)))
})

// hostPort joins an IP (v4 or v6) and a port for a URL.
func hostPort(ip string, port int32) string {
	if strings.Contains(ip, ":") {
		return fmt.Sprintf("[%s]:%d", ip, port)
	}
	return fmt.Sprintf("%s:%d", ip, port)
}
