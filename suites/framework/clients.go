package framework

import (
	"context"
	"fmt"
	"sync"

	"github.com/onsi/ginkgo/v2"
	"github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// clients caches what is built from the kubeconfig: specs call ClientSet()
// often and the kubeconfig does not change during a run.
var clients struct {
	sync.Mutex
	kubeconfig string
	config     *rest.Config
	clientset  kubernetes.Interface
	dynamic    dynamic.Interface
}

// LoadRESTConfig loads the REST config of TestContext.Kubeconfig. It returns
// an error instead of failing a spec, for runners checking a kubeconfig
// before they start the specs.
func LoadRESTConfig() (*rest.Config, error) {
	if err := TestContext.Validate(); err != nil {
		return nil, err
	}
	clients.Lock()
	defer clients.Unlock()
	if clients.config != nil && clients.kubeconfig == TestContext.Kubeconfig {
		return rest.CopyConfig(clients.config), nil
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", TestContext.Kubeconfig)
	if err != nil {
		return nil, fmt.Errorf("load kubeconfig %s: %w", TestContext.Kubeconfig, err)
	}
	cfg.QPS, cfg.Burst = TestContext.QPS, TestContext.Burst
	cfg.UserAgent = "distrobench-suites"
	// API warnings (deprecations...) go with the output of the spec that
	// caused them, not to the terminal of the harness.
	cfg.WarningHandler = rest.NewWarningWriter(ginkgo.GinkgoWriter, rest.WarningWriterOptions{Deduplicate: true})
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("client for kubeconfig %s: %w", TestContext.Kubeconfig, err)
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("dynamic client for kubeconfig %s: %w", TestContext.Kubeconfig, err)
	}
	clients.kubeconfig, clients.config, clients.clientset, clients.dynamic = TestContext.Kubeconfig, cfg, cs, dyn
	return rest.CopyConfig(cfg), nil
}

// RESTConfig returns a copy of the REST config of the cluster under test
// (the caller may change it). It fails the current spec when the kubeconfig
// cannot be loaded.
func RESTConfig() *rest.Config {
	ginkgo.GinkgoHelper()
	cfg, err := LoadRESTConfig()
	gomega.Expect(err).NotTo(gomega.HaveOccurred())
	return cfg
}

// ClientSet returns the typed client of the cluster under test.
func ClientSet() kubernetes.Interface {
	ginkgo.GinkgoHelper()
	RESTConfig()
	clients.Lock()
	defer clients.Unlock()
	return clients.clientset
}

// Dynamic returns the dynamic client of the cluster under test.
func Dynamic() dynamic.Interface {
	ginkgo.GinkgoHelper()
	RESTConfig()
	clients.Lock()
	defer clients.Unlock()
	return clients.dynamic
}

// NamespaceLabel marks every namespace the suites create.
const NamespaceLabel = "distrobench.io/suite-namespace"

// NewNamespace creates a namespace named "<TestContext.NamespacePrefix>-
// <prefix>-<random>" and registers a DeferCleanup that deletes it (without
// waiting: the namespace controller finishes the job in the background). Call
// it from a spec or a Before* node.
func NewNamespace(ctx context.Context, prefix string) *corev1.Namespace {
	ginkgo.GinkgoHelper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{
		GenerateName: TestContext.NamespacePrefix + "-" + prefix + "-",
		// Privileged, as upstream's e2e framework labels the namespaces of
		// specs that need root or exec: a hardened profile (RKE2-style
		// PodSecurity "restricted" by default) must not reject the suites'
		// own test pods.
		Labels: map[string]string{NamespaceLabel: "true", "pod-security.kubernetes.io/enforce": "privileged"},
	}}
	created, err := ClientSet().CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{})
	gomega.Expect(err).NotTo(gomega.HaveOccurred(), "create namespace %s*", ns.GenerateName)
	ginkgo.DeferCleanup(DeleteNamespace, created.Name)
	return created
}

// DeleteNamespace deletes a namespace; one that is already gone is fine.
func DeleteNamespace(ctx context.Context, name string) error {
	err := ClientSet().CoreV1().Namespaces().Delete(ctx, name, metav1.DeleteOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("delete namespace %s: %w", name, err)
	}
	return nil
}
