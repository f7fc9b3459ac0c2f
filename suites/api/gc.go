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

var _ = describe("garbage collection", Label(framework.LabelAPI, framework.LabelControllers), func() {
	var ns string
	BeforeEach(func(ctx context.Context) {
		ns = framework.NewNamespace(ctx, "gc").Name
	})

	// ownerAndDependent creates a ConfigMap owned by another.
	ownerAndDependent := func(ctx context.Context, prefix string) (owner, dependent *corev1.ConfigMap) {
		GinkgoHelper()
		c := framework.ClientSet().CoreV1().ConfigMaps(ns)
		owner, err := c.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: prefix + "-owner"}}, metav1.CreateOptions{})
		Expect(err).NotTo(HaveOccurred())
		block := true
		dependent, err = c.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{
			Name: prefix + "-dependent",
			OwnerReferences: []metav1.OwnerReference{{
				APIVersion: "v1", Kind: "ConfigMap", Name: owner.Name, UID: owner.UID,
				BlockOwnerDeletion: &block,
			}},
		}}, metav1.CreateOptions{})
		Expect(err).NotTo(HaveOccurred())
		return owner, dependent
	}
	gone := func(name string) func(ctx context.Context) error {
		return func(ctx context.Context) error {
			_, err := framework.ClientSet().CoreV1().ConfigMaps(ns).Get(ctx, name, metav1.GetOptions{})
			return err
		}
	}

	It("deletes dependents after the owner with background propagation", func(ctx SpecContext) {
		owner, dep := ownerAndDependent(ctx, "bg")
		bg := metav1.DeletePropagationBackground
		Expect(framework.ClientSet().CoreV1().ConfigMaps(ns).Delete(ctx, owner.Name, metav1.DeleteOptions{PropagationPolicy: &bg})).To(Succeed())
		_, err := framework.ClientSet().CoreV1().ConfigMaps(ns).Get(ctx, owner.Name, metav1.GetOptions{})
		Expect(apierrors.IsNotFound(err)).To(BeTrue(), "the owner must go at once with background propagation: %v", err)
		Eventually(gone(dep.Name)).WithContext(ctx).WithTimeout(framework.Timeout(time.Minute)).WithPolling(250*time.Millisecond).
			Should(Satisfy(apierrors.IsNotFound), "dependent %s is never collected (is the garbage collector running?)", dep.Name)
	}, SpecTimeout(framework.Timeout(2*time.Minute)))

	It("deletes dependents before the owner with foreground propagation", func(ctx SpecContext) {
		c := framework.ClientSet().CoreV1().ConfigMaps(ns)
		owner, dep := ownerAndDependent(ctx, "fg")
		fg := metav1.DeletePropagationForeground
		Expect(c.Delete(ctx, owner.Name, metav1.DeleteOptions{PropagationPolicy: &fg})).To(Succeed())
		// The owner stays, marked for deletion, until its blocking
		// dependents are gone (unless the collector was already that quick).
		got, err := c.Get(ctx, owner.Name, metav1.GetOptions{})
		if err == nil {
			Expect(got.DeletionTimestamp).NotTo(BeNil())
			Expect(got.Finalizers).To(ContainElement(metav1.FinalizerDeleteDependents))
		} else {
			Expect(apierrors.IsNotFound(err)).To(BeTrue(), "get owner: %v", err)
		}
		Eventually(gone(dep.Name)).WithContext(ctx).WithTimeout(framework.Timeout(time.Minute)).WithPolling(250*time.Millisecond).
			Should(Satisfy(apierrors.IsNotFound), "dependent %s is never collected", dep.Name)
		Eventually(gone(owner.Name)).WithContext(ctx).WithTimeout(framework.Timeout(time.Minute)).WithPolling(250*time.Millisecond).
			Should(Satisfy(apierrors.IsNotFound), "owner %s keeps its foregroundDeletion finalizer", owner.Name)
	}, SpecTimeout(framework.Timeout(3*time.Minute)))

	It("orphans dependents with orphan propagation", func(ctx SpecContext) {
		c := framework.ClientSet().CoreV1().ConfigMaps(ns)
		owner, dep := ownerAndDependent(ctx, "orphan")
		orphan := metav1.DeletePropagationOrphan
		Expect(c.Delete(ctx, owner.Name, metav1.DeleteOptions{PropagationPolicy: &orphan})).To(Succeed())
		Eventually(gone(owner.Name)).WithContext(ctx).WithTimeout(framework.Timeout(time.Minute)).WithPolling(250*time.Millisecond).
			Should(Satisfy(apierrors.IsNotFound), "owner %s keeps its orphan finalizer", owner.Name)
		Eventually(func(ctx context.Context) ([]metav1.OwnerReference, error) {
			got, err := c.Get(ctx, dep.Name, metav1.GetOptions{})
			if err != nil {
				return nil, err
			}
			return got.OwnerReferences, nil
		}).WithContext(ctx).WithTimeout(framework.Timeout(time.Minute)).WithPolling(250*time.Millisecond).
			Should(BeEmpty(), "the orphaned dependent must keep existing without its owner reference")
	}, SpecTimeout(framework.Timeout(3*time.Minute)))
})
