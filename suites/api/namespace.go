package api

import (
	"context"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/distrobench/distrobench/suites/framework"
)

var _ = describe("namespace deletion", Label(framework.LabelAPI, framework.LabelControllers), func() {
	It("finalizes the namespace and deletes its contents", func(ctx SpecContext) {
		cs := framework.ClientSet()
		ns := framework.NewNamespace(ctx, "nsdel").Name
		_, err := cs.CoreV1().ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "cm"}}, metav1.CreateOptions{})
		Expect(err).NotTo(HaveOccurred())
		_, err = cs.CoreV1().Secrets(ns).Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "sec"}}, metav1.CreateOptions{})
		Expect(err).NotTo(HaveOccurred())
		_, err = cs.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "sa"}}, metav1.CreateOptions{})
		Expect(err).NotTo(HaveOccurred())

		Expect(cs.CoreV1().Namespaces().Delete(ctx, ns, metav1.DeleteOptions{})).To(Succeed())

		// New objects are refused while the namespace terminates (or is gone).
		_, err = cs.CoreV1().ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "late"}}, metav1.CreateOptions{})
		Expect(err).To(HaveOccurred(), "create in a deleted namespace")

		Eventually(func(ctx context.Context) error {
			_, err := cs.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
			return err
		}).WithContext(ctx).WithTimeout(framework.Timeout(2*time.Minute)).WithPolling(500*time.Millisecond).
			Should(Satisfy(apierrors.IsNotFound), "namespace %s is never finalized (is the namespace controller running, and is every APIService available?)", ns)

		cms, err := cs.CoreV1().ConfigMaps(ns).List(ctx, metav1.ListOptions{})
		Expect(err).NotTo(HaveOccurred())
		Expect(cms.Items).To(BeEmpty())
		secrets, err := cs.CoreV1().Secrets(ns).List(ctx, metav1.ListOptions{})
		Expect(err).NotTo(HaveOccurred())
		Expect(secrets.Items).To(BeEmpty())
		sas, err := cs.CoreV1().ServiceAccounts(ns).List(ctx, metav1.ListOptions{})
		Expect(err).NotTo(HaveOccurred())
		Expect(sas.Items).To(BeEmpty())
	}, SpecTimeout(framework.Timeout(3*time.Minute)))
})
