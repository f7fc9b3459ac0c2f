package api

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/netip"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/distrobench/distrobench/suites/framework"
)

var _ = describe("core kinds CRUD", Label(framework.LabelAPI), func() {
	var ns string
	BeforeEach(func(ctx context.Context) {
		ns = framework.NewNamespace(ctx, "crud").Name
	})

	It("creates, reads, updates, lists and deletes a ConfigMap", func(ctx context.Context) {
		c := framework.ClientSet().CoreV1().ConfigMaps(ns)
		cm, err := c.Create(ctx, &corev1.ConfigMap{
			ObjectMeta: metav1.ObjectMeta{Name: "cm", Labels: map[string]string{"k": "v"}},
			Data:       map[string]string{"a": "1"},
			BinaryData: map[string][]byte{"bin": {0, 1, 2, 255}},
		}, metav1.CreateOptions{})
		Expect(err).NotTo(HaveOccurred())
		Expect(cm.UID).NotTo(BeEmpty())
		Expect(cm.ResourceVersion).NotTo(BeEmpty())

		got, err := c.Get(ctx, "cm", metav1.GetOptions{})
		Expect(err).NotTo(HaveOccurred())
		Expect(got.Data).To(Equal(map[string]string{"a": "1"}))
		Expect(got.BinaryData).To(Equal(map[string][]byte{"bin": {0, 1, 2, 255}}))

		got.Data["b"] = "2"
		upd, err := c.Update(ctx, got, metav1.UpdateOptions{})
		Expect(err).NotTo(HaveOccurred())
		Expect(upd.ResourceVersion).NotTo(Equal(got.ResourceVersion))
		Expect(upd.Data).To(HaveKeyWithValue("b", "2"))

		list, err := c.List(ctx, metav1.ListOptions{})
		Expect(err).NotTo(HaveOccurred())
		Expect(withoutRootCA(names(list.Items))).To(ConsistOf("cm"))

		Expect(c.Delete(ctx, "cm", metav1.DeleteOptions{})).To(Succeed())
		_, err = c.Get(ctx, "cm", metav1.GetOptions{})
		Expect(apierrors.IsNotFound(err)).To(BeTrue(), "get after delete: %v", err)
	})

	It("round-trips Secret data byte for byte", func(ctx context.Context) {
		c := framework.ClientSet().CoreV1().Secrets(ns)
		data := map[string][]byte{"token": []byte("s3cr3t\x00\xff"), "empty": {}}
		_, err := c.Create(ctx, &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Name: "sec"},
			Type:       corev1.SecretTypeOpaque,
			Data:       data,
		}, metav1.CreateOptions{})
		Expect(err).NotTo(HaveOccurred())
		got, err := c.Get(ctx, "sec", metav1.GetOptions{})
		Expect(err).NotTo(HaveOccurred())
		Expect(got.Type).To(Equal(corev1.SecretTypeOpaque))
		Expect(got.Data).To(HaveKeyWithValue("token", data["token"]))
		Expect(got.Data).To(HaveKey("empty"))
		got.StringData = map[string]string{"extra": "x"}
		upd, err := c.Update(ctx, got, metav1.UpdateOptions{})
		Expect(err).NotTo(HaveOccurred())
		Expect(upd.Data).To(HaveKeyWithValue("extra", []byte("x")))
		Expect(c.Delete(ctx, "sec", metav1.DeleteOptions{})).To(Succeed())
	})

	It("allocates a Service ClusterIP from the service CIDR and releases it", func(ctx context.Context) {
		cs := framework.ClientSet()
		svc, err := cs.CoreV1().Services(ns).Create(ctx, &corev1.Service{
			ObjectMeta: metav1.ObjectMeta{Name: "svc"},
			Spec: corev1.ServiceSpec{
				Selector: map[string]string{"app": "none"},
				Ports:    []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromInt32(8080)}},
			},
		}, metav1.CreateOptions{})
		Expect(err).NotTo(HaveOccurred())
		ip, err := netip.ParseAddr(svc.Spec.ClusterIP)
		Expect(err).NotTo(HaveOccurred(), "clusterIP %q", svc.Spec.ClusterIP)
		Expect(svc.Spec.ClusterIPs).To(ContainElement(svc.Spec.ClusterIP))

		// The service CIDRs: the ServiceCIDR API (networking.k8s.io/v1,
		// GA in 1.33) names them; the "kubernetes" Service holds the first
		// address of the primary one.
		kube, err := cs.CoreV1().Services("default").Get(ctx, "kubernetes", metav1.GetOptions{})
		Expect(err).NotTo(HaveOccurred())
		Expect(svc.Spec.ClusterIP).NotTo(Equal(kube.Spec.ClusterIP))
		cidrs, err := cs.NetworkingV1().ServiceCIDRs().List(ctx, metav1.ListOptions{})
		if apierrors.IsNotFound(err) {
			By("the ServiceCIDR API is not served: checking the address family of the kubernetes Service only")
			Expect(ip.Is4()).To(Equal(net.ParseIP(kube.Spec.ClusterIP).To4() != nil))
		} else {
			Expect(err).NotTo(HaveOccurred())
			var in []string
			for _, sc := range cidrs.Items {
				for _, c := range sc.Spec.CIDRs {
					p, err := netip.ParsePrefix(c)
					Expect(err).NotTo(HaveOccurred(), "ServiceCIDR %s: %q", sc.Name, c)
					if p.Contains(ip) {
						in = append(in, c)
					}
				}
			}
			Expect(in).NotTo(BeEmpty(), "clusterIP %s is in no ServiceCIDR (%d listed)", ip, len(cidrs.Items))
		}

		Expect(cs.CoreV1().Services(ns).Delete(ctx, "svc", metav1.DeleteOptions{})).To(Succeed())
	})

	It("creates, labels and deletes a Namespace", func(ctx context.Context) {
		c := framework.ClientSet().CoreV1().Namespaces()
		created := framework.NewNamespace(ctx, "crud-ns")
		Expect(created.Status.Phase).To(Equal(corev1.NamespaceActive))
		Expect(created.Labels).To(HaveKeyWithValue(corev1.LabelMetadataName, created.Name))
		created.Labels["team"] = "a"
		upd, err := c.Update(ctx, created, metav1.UpdateOptions{})
		Expect(err).NotTo(HaveOccurred())
		Expect(upd.Labels).To(HaveKeyWithValue("team", "a"))
		Expect(c.Delete(ctx, created.Name, metav1.DeleteOptions{})).To(Succeed())
		got, err := c.Get(ctx, created.Name, metav1.GetOptions{})
		if err == nil {
			Expect(got.DeletionTimestamp).NotTo(BeNil())
			Expect(got.Status.Phase).To(Equal(corev1.NamespaceTerminating))
		} else {
			Expect(apierrors.IsNotFound(err)).To(BeTrue(), "get deleted namespace: %v", err)
		}
	})

	It("creates, updates and deletes a ServiceAccount", func(ctx context.Context) {
		c := framework.ClientSet().CoreV1().ServiceAccounts(ns)
		sa, err := c.Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "sa"}}, metav1.CreateOptions{})
		Expect(err).NotTo(HaveOccurred())
		no := false
		sa.AutomountServiceAccountToken = &no
		upd, err := c.Update(ctx, sa, metav1.UpdateOptions{})
		Expect(err).NotTo(HaveOccurred())
		Expect(upd.AutomountServiceAccountToken).To(HaveValue(BeFalse()))
		Expect(c.Delete(ctx, "sa", metav1.DeleteOptions{})).To(Succeed())
		_, err = c.Get(ctx, "sa", metav1.GetOptions{})
		Expect(apierrors.IsNotFound(err)).To(BeTrue(), "get after delete: %v", err)
	})

	It("rejects an update with a stale resourceVersion with 409 Conflict", func(ctx context.Context) {
		c := framework.ClientSet().CoreV1().ConfigMaps(ns)
		cm, err := c.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "conflict"}, Data: map[string]string{"v": "0"}}, metav1.CreateOptions{})
		Expect(err).NotTo(HaveOccurred())
		stale := cm.DeepCopy()
		cm.Data["v"] = "1"
		_, err = c.Update(ctx, cm, metav1.UpdateOptions{})
		Expect(err).NotTo(HaveOccurred())

		stale.Data["v"] = "2"
		_, err = c.Update(ctx, stale, metav1.UpdateOptions{})
		Expect(apierrors.IsConflict(err)).To(BeTrue(), "update with stale resourceVersion: %v", err)
		var se *apierrors.StatusError
		Expect(errors.As(err, &se)).To(BeTrue(), "error %T is not a StatusError", err)
		Expect(se.ErrStatus.Code).To(BeEquivalentTo(http.StatusConflict))

		got, err := c.Get(ctx, "conflict", metav1.GetOptions{})
		Expect(err).NotTo(HaveOccurred())
		Expect(got.Data).To(HaveKeyWithValue("v", "1"), "the stale update must not have been applied")
	})
})

// names returns the names of objects.
func names[T any, PT interface {
	*T
	GetName() string
}](items []T) []string {
	out := make([]string, 0, len(items))
	for i := range items {
		out = append(out, PT(&items[i]).GetName())
	}
	return out
}
