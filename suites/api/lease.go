package api

import (
	"context"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/distrobench/distrobench/suites/framework"
)

var _ = describe("leases", Label(framework.LabelAPI), func() {
	It("creates, renews and hands over a Lease", func(ctx context.Context) {
		ns := framework.NewNamespace(ctx, "lease").Name
		c := framework.ClientSet().CoordinationV1().Leases(ns)
		// MicroTime is stored with microsecond precision: truncate so the
		// values compare equal after the round trip.
		now := metav1.NewMicroTime(time.Now().Truncate(time.Microsecond))
		lease, err := c.Create(ctx, &coordinationv1.Lease{
			ObjectMeta: metav1.ObjectMeta{Name: "leader"},
			Spec: coordinationv1.LeaseSpec{
				HolderIdentity:       ptr("holder-a"),
				LeaseDurationSeconds: ptr(int32(15)),
				AcquireTime:          &now,
				RenewTime:            &now,
				LeaseTransitions:     ptr(int32(0)),
			},
		}, metav1.CreateOptions{})
		Expect(err).NotTo(HaveOccurred())
		Expect(lease.Spec.RenewTime.Equal(&now)).To(BeTrue(), "renewTime %v, want %v", lease.Spec.RenewTime, now)

		By("renewing it")
		stale := lease.DeepCopy()
		renew := metav1.NewMicroTime(now.Add(2 * time.Second))
		lease.Spec.RenewTime = &renew
		renewed, err := c.Update(ctx, lease, metav1.UpdateOptions{})
		Expect(err).NotTo(HaveOccurred())
		Expect(renewed.ResourceVersion).NotTo(Equal(lease.ResourceVersion))
		Expect(renewed.Spec.RenewTime.Equal(&renew)).To(BeTrue(), "renewTime %v, want %v", renewed.Spec.RenewTime, renew)
		Expect(*renewed.Spec.HolderIdentity).To(Equal("holder-a"))

		By("refusing a second candidate that acts on a stale copy")
		stale.Spec.HolderIdentity = ptr("holder-b")
		_, err = c.Update(ctx, stale, metav1.UpdateOptions{})
		Expect(apierrors.IsConflict(err)).To(BeTrue(), "leader election relies on 409 for stale updates: %v", err)

		By("handing it over")
		takeover := metav1.NewMicroTime(renew.Add(time.Second))
		renewed.Spec.HolderIdentity = ptr("holder-b")
		renewed.Spec.AcquireTime = &takeover
		renewed.Spec.RenewTime = &takeover
		renewed.Spec.LeaseTransitions = ptr(*renewed.Spec.LeaseTransitions + 1)
		_, err = c.Update(ctx, renewed, metav1.UpdateOptions{})
		Expect(err).NotTo(HaveOccurred())
		got, err := c.Get(ctx, "leader", metav1.GetOptions{})
		Expect(err).NotTo(HaveOccurred())
		Expect(*got.Spec.HolderIdentity).To(Equal("holder-b"))
		Expect(*got.Spec.LeaseTransitions).To(BeEquivalentTo(1))
		Expect(got.Spec.AcquireTime.Equal(&takeover)).To(BeTrue())

		Expect(c.Delete(ctx, "leader", metav1.DeleteOptions{})).To(Succeed())
		_, err = c.Get(ctx, "leader", metav1.GetOptions{})
		Expect(apierrors.IsNotFound(err)).To(BeTrue(), "get after delete: %v", err)
	})
})
