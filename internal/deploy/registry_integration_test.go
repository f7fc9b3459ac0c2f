package deploy

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"

	"github.com/distrobench/distrobench/internal/profile"
)

// imageTarballs are <repo>/_output/images/<arch>/<name>.tar (or
// $DISTROBENCH_IMAGES/<name>.tar); a missing one fails the test.
func imageTarballs(t *testing.T, names ...string) []string {
	t.Helper()
	dir := os.Getenv("DISTROBENCH_IMAGES")
	if dir == "" {
		dir = filepath.Join("..", "..", "_output", "images", runtime.GOARCH)
	}
	var out []string
	for _, n := range names {
		f, err := filepath.Abs(filepath.Join(dir, n))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(f); err != nil {
			t.Fatalf("image tarball %s not found: build it with 'distrobench images' (or set DISTROBENCH_IMAGES)", f)
		}
		out = append(out, f)
	}
	return out
}

// TestEmbeddedRegistryIntegration: a real k3lite server with its own node
// and one agent, deployed as the harness always does (registries.yaml
// mirroring registry.k8s.io and docker.io, --embedded-registry,
// --disable-default-registry-endpoint). A pod with imagePullPolicy Always
// for an image the nodes imported must run on either node (the kubelet
// pulls it through the node's own mirror), and a pod whose image no node
// has must fail with ErrImagePull and "not found" from the mirror: the
// registry itself is never contacted, so nothing leaves the machine and
// nothing hangs on DNS or a dial timeout.
func TestEmbeddedRegistryIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("integration: needs the k3lite binary, the image tarballs (distrobench images) and root for simulated hosts")
	}
	bin := k3liteBinary(t)
	tarballs := imageTarballs(t, "pause-3.10.2.tar", "busybox-1.37.0-2.tar")
	p := &profile.Profile{}
	p.Metadata.Name = "k3lite-registry-it"
	p.Spec.Binary = bin
	p.Spec.Nodes.Agents = 1
	// CoreDNS is not needed here (and its image is not placed).
	p.Spec.Server.Args = []string{"--disable", "coredns"}
	p.Spec.Timeouts.Ready = "240s"
	p.Spec.Timeouts.Stop = "60s"
	p.SetDefaults()

	ctx, cancel := context.WithTimeout(context.Background(), 12*time.Minute)
	defer cancel()
	c, err := Up(ctx, Options{Profile: p, RunDir: filepath.Join(t.TempDir(), "run"), ImageTarballs: tarballs})
	if err != nil {
		t.Fatalf("Up: %v", err)
	}
	t.Cleanup(func() {
		if err := c.Down(context.Background()); err != nil {
			t.Errorf("Down: %v", err)
		}
	})

	// Each node's containerd knows its own mirror as the only host of
	// registry.k8s.io.
	for _, dir := range c.nodeDataDirs() {
		b, err := os.ReadFile(filepath.Join(dir, "agent", "etc", "containerd", "certs.d", "registry.k8s.io", "hosts.toml"))
		if err != nil {
			t.Fatalf("node hosts file: %v", err)
		}
		if !regexp.MustCompile(`(?m)^server = "http://127\.0\.0\.1:\d+"$`).Match(b) || strings.Contains(string(b), "https://registry.k8s.io") {
			t.Errorf("%s: registry.k8s.io hosts.toml does not name the embedded mirror as the only host:\n%s", dir, b)
		}
	}

	cs := clientset(t, c)
	ns := "registry-it"
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	pod := func(name, node, image string) *corev1.Pod {
		return &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec: corev1.PodSpec{
				NodeName:      node,
				RestartPolicy: corev1.RestartPolicyNever,
				Containers: []corev1.Container{{
					Name: "c", Image: image, ImagePullPolicy: corev1.PullAlways,
					Command: []string{"sh", "-c", "echo pulled-through-the-mirror"},
				}},
			},
		}
	}
	const busybox = "registry.k8s.io/e2e-test-images/busybox:1.37.0-2"
	missing := map[string]string{
		"missing-k8s":    "registry.k8s.io/e2e-test-images/not-on-any-node:1.0",
		"missing-docker": "docker.io/library/not-on-any-node:1.0",
	}
	for _, node := range c.NodeNames() {
		if _, err := cs.CoreV1().Pods(ns).Create(ctx, pod("always-"+node, node, busybox), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	for name, image := range missing {
		if _, err := cs.CoreV1().Pods(ns).Create(ctx, pod(name, c.NodeNames()[len(c.NodeNames())-1], image), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}

	// A hang guard, not a timing assertion.
	for _, node := range c.NodeNames() {
		name := "always-" + node
		var last *corev1.Pod
		err := wait.PollUntilContextTimeout(ctx, time.Second, 3*time.Minute, true, func(ctx context.Context) (bool, error) {
			p, err := cs.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				return false, nil //nolint:nilerr // retried
			}
			last = p
			return p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed, nil
		})
		if err != nil || last.Status.Phase != corev1.PodSucceeded {
			t.Fatalf("pod %s (imagePullPolicy Always, %s) did not succeed: %v\n%s%s", name, busybox, err, podState(last), c.agentLogs())
		}
		if !hasEvent(ctx, t, cs, ns, name, "Pulled", "Successfully pulled image") {
			t.Errorf("pod %s: no 'Successfully pulled image' event: the image was not pulled through the mirror", name)
		}
		logs, err := cs.CoreV1().Pods(ns).GetLogs(name, &corev1.PodLogOptions{}).DoRaw(ctx)
		if err != nil || !strings.Contains(string(logs), "pulled-through-the-mirror") {
			t.Errorf("pod %s logs %q (%v)", name, logs, err)
		}
	}
	for name, image := range missing {
		var reason, msg string
		err := wait.PollUntilContextTimeout(ctx, time.Second, 2*time.Minute, true, func(ctx context.Context) (bool, error) {
			p, err := cs.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
			if err != nil || len(p.Status.ContainerStatuses) == 0 || p.Status.ContainerStatuses[0].State.Waiting == nil {
				return false, nil //nolint:nilerr // retried
			}
			w := p.Status.ContainerStatuses[0].State.Waiting
			reason, msg = w.Reason, w.Message
			return reason == "ErrImagePull" || reason == "ImagePullBackOff", nil
		})
		if err != nil {
			t.Fatalf("pod %s (%s, on no node): no ErrImagePull within 2 minutes (last: %s %s)", name, image, reason, msg)
		}
		// The failure comes from the mirror's 404, never from trying the
		// registry itself (DNS lookup, dial, TLS).
		if reason == "ErrImagePull" && (!strings.Contains(msg, "not found") || regexp.MustCompile(`lookup|dial tcp|tls|i/o timeout`).MatchString(msg)) {
			t.Errorf("pod %s: pull error %q: want 'not found' from the mirror and no network attempt", name, msg)
		}
		t.Logf("pod %s (%s): %s: %s", name, image, reason, msg)
		if !hasEvent(ctx, t, cs, ns, name, "Failed", "not found") {
			t.Errorf("pod %s: no Failed event saying 'not found'", name)
		}
	}
}

// hasEvent waits up to 30 s for an event of the pod with this reason and
// text in its message, and logs it.
func hasEvent(ctx context.Context, t *testing.T, cs kubernetes.Interface, ns, pod, reason, text string) bool {
	t.Helper()
	found := false
	_ = wait.PollUntilContextTimeout(ctx, time.Second, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		evs, err := cs.CoreV1().Events(ns).List(ctx, metav1.ListOptions{FieldSelector: "involvedObject.name=" + pod})
		if err != nil {
			return false, nil //nolint:nilerr // retried
		}
		for _, e := range evs.Items {
			if e.Reason == reason && strings.Contains(e.Message, text) {
				t.Logf("pod %s event %s: %s", pod, e.Reason, e.Message)
				found = true
				return true, nil
			}
		}
		return false, nil
	})
	return found
}

func podState(p *corev1.Pod) string {
	if p == nil {
		return "pod not found\n"
	}
	s := fmt.Sprintf("phase %s on %s\n", p.Status.Phase, p.Spec.NodeName)
	for _, st := range p.Status.ContainerStatuses {
		s += fmt.Sprintf("  container %s: %+v\n", st.Name, st.State)
	}
	return s
}

func (c *Cluster) agentLogs() string {
	s := c.tailNote()
	for _, a := range c.Agents {
		s += c.agentTailNote(a)
	}
	return s
}
