package api

import (
	"context"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/distrobench/distrobench/suites/framework"
)

var _ = describe("selectors", Ordered, Label(framework.LabelAPI), func() {
	var nsA, nsB string

	BeforeAll(func(ctx context.Context) {
		nsA = framework.NewNamespace(ctx, "sel-a").Name
		nsB = framework.NewNamespace(ctx, "sel-b").Name
		objs := []struct {
			ns, name string
			labels   map[string]string
		}{
			{nsA, "web-1", map[string]string{"app": "web", "tier": "front"}},
			{nsA, "web-2", map[string]string{"app": "web", "tier": "back"}},
			{nsA, "db-1", map[string]string{"app": "db", "tier": "back"}},
			{nsA, "plain", nil},
			{nsB, "web-1", map[string]string{"app": "web", "tier": "front"}},
		}
		for _, o := range objs {
			_, err := framework.ClientSet().CoreV1().ConfigMaps(o.ns).Create(ctx, &corev1.ConfigMap{
				ObjectMeta: metav1.ObjectMeta{Name: o.name, Labels: o.labels},
			}, metav1.CreateOptions{})
			Expect(err).NotTo(HaveOccurred())
		}
	})

	DescribeTable("filter by label selector",
		func(ctx context.Context, selector string, want []string) {
			list, err := framework.ClientSet().CoreV1().ConfigMaps(nsA).List(ctx, metav1.ListOptions{LabelSelector: selector})
			Expect(err).NotTo(HaveOccurred())
			Expect(withoutRootCA(names(list.Items))).To(ConsistOf(want))
		},
		Entry("equality", "app=web", []string{"web-1", "web-2"}),
		Entry("inequality", "app!=web", []string{"db-1", "plain"}),
		Entry("conjunction", "app=web,tier=back", []string{"web-2"}),
		Entry("set membership", "app in (web,db),tier notin (front)", []string{"web-2", "db-1"}),
		Entry("existence", "tier", []string{"web-1", "web-2", "db-1"}),
		Entry("non-existence", "!app", []string{"plain"}),
		Entry("no match", "app=none", []string{}),
	)

	It("filters by metadata.name", func(ctx context.Context) {
		c := framework.ClientSet().CoreV1().ConfigMaps(nsA)
		list, err := c.List(ctx, metav1.ListOptions{FieldSelector: "metadata.name=web-2"})
		Expect(err).NotTo(HaveOccurred())
		Expect(names(list.Items)).To(ConsistOf("web-2"))

		list, err = c.List(ctx, metav1.ListOptions{FieldSelector: "metadata.name!=web-2", LabelSelector: "app"})
		Expect(err).NotTo(HaveOccurred())
		Expect(names(list.Items)).To(ConsistOf("web-1", "db-1"))
	})

	It("filters by metadata.namespace across all namespaces", func(ctx context.Context) {
		c := framework.ClientSet().CoreV1().ConfigMaps(metav1.NamespaceAll)
		list, err := c.List(ctx, metav1.ListOptions{FieldSelector: "metadata.namespace=" + nsB})
		Expect(err).NotTo(HaveOccurred())
		for _, cm := range list.Items {
			Expect(cm.Namespace).To(Equal(nsB))
		}
		Expect(withoutRootCA(names(list.Items))).To(ConsistOf("web-1"))

		list, err = c.List(ctx, metav1.ListOptions{FieldSelector: "metadata.name=web-1", LabelSelector: "app=web"})
		Expect(err).NotTo(HaveOccurred())
		var where []string
		for _, cm := range list.Items {
			where = append(where, cm.Namespace+"/"+cm.Name)
		}
		Expect(where).To(ContainElements(nsA+"/web-1", nsB+"/web-1"))
	})

	It("rejects a field selector on an unsupported field", func(ctx context.Context) {
		_, err := framework.ClientSet().CoreV1().ConfigMaps(nsA).List(ctx, metav1.ListOptions{FieldSelector: "data.x=y"})
		Expect(err).To(HaveOccurred())
	})
})

// rootCAConfigMap is published into every namespace by kube-controller-manager.
const rootCAConfigMap = "kube-root-ca.crt"

// withoutRootCA drops the ConfigMap the controller manager adds to every
// namespace, whose arrival time the specs cannot control.
func withoutRootCA(in []string) []string {
	out := make([]string, 0, len(in))
	for _, n := range in {
		if n != rootCAConfigMap {
			out = append(out, n)
		}
	}
	return out
}
