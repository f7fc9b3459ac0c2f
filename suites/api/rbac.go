package api

import (
	"context"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/distrobench/distrobench/suites/framework"
)

var _ = describe("RBAC", Ordered, Label(framework.LabelAPI, framework.LabelRBAC), func() {
	var (
		own, other string
		sa         = "reader"
		client     kubernetes.Interface
	)

	BeforeAll(func(ctx context.Context) {
		cs := framework.ClientSet()
		own = framework.NewNamespace(ctx, "rbac").Name
		other = framework.NewNamespace(ctx, "rbac-other").Name
		_, err := cs.CoreV1().ServiceAccounts(own).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: sa}}, metav1.CreateOptions{})
		Expect(err).NotTo(HaveOccurred())
		_, err = cs.RbacV1().Roles(own).Create(ctx, &rbacv1.Role{
			ObjectMeta: metav1.ObjectMeta{Name: "configmap-reader"},
			Rules: []rbacv1.PolicyRule{{
				APIGroups: []string{""}, Resources: []string{"configmaps"}, Verbs: []string{"get", "list", "watch"},
			}},
		}, metav1.CreateOptions{})
		Expect(err).NotTo(HaveOccurred())
		_, err = cs.RbacV1().RoleBindings(own).Create(ctx, &rbacv1.RoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: "configmap-reader"},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "configmap-reader"},
			Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: sa, Namespace: own}},
		}, metav1.CreateOptions{})
		Expect(err).NotTo(HaveOccurred())
		for _, ns := range []string{own, other} {
			_, err = cs.CoreV1().ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "visible"}}, metav1.CreateOptions{})
			Expect(err).NotTo(HaveOccurred())
		}

		exp := int64(600)
		tr, err := cs.CoreV1().ServiceAccounts(own).CreateToken(ctx, sa, &authenticationv1.TokenRequest{
			Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: &exp},
		}, metav1.CreateOptions{})
		Expect(err).NotTo(HaveOccurred())
		Expect(tr.Status.Token).NotTo(BeEmpty())

		// The ServiceAccount's identity only: the admin's client
		// certificate and any other credential are dropped.
		admin := framework.RESTConfig()
		cfg := rest.AnonymousClientConfig(admin)
		cfg.BearerToken = tr.Status.Token
		client, err = kubernetes.NewForConfig(cfg)
		Expect(err).NotTo(HaveOccurred())
	})

	It("authenticates the TokenRequest token as the ServiceAccount", func(ctx context.Context) {
		review, err := client.AuthenticationV1().SelfSubjectReviews().Create(ctx, &authenticationv1.SelfSubjectReview{}, metav1.CreateOptions{})
		Expect(err).NotTo(HaveOccurred())
		Expect(review.Status.UserInfo.Username).To(Equal("system:serviceaccount:" + own + ":" + sa))
		Expect(review.Status.UserInfo.Groups).To(ContainElements("system:serviceaccounts", "system:serviceaccounts:"+own, "system:authenticated"))
	})

	It("allows what the Role grants: list configmaps in its namespace", func(ctx SpecContext) {
		// Authorizers see new bindings through an informer: allow a moment.
		Eventually(func(ctx context.Context) ([]string, error) {
			list, err := client.CoreV1().ConfigMaps(own).List(ctx, metav1.ListOptions{})
			if err != nil {
				return nil, err
			}
			return names(list.Items), nil
		}).WithContext(ctx).WithTimeout(framework.Timeout(30 * time.Second)).WithPolling(250 * time.Millisecond).
			Should(ContainElement("visible"))
		_, err := client.CoreV1().ConfigMaps(own).Get(ctx, "visible", metav1.GetOptions{})
		Expect(err).NotTo(HaveOccurred())
	}, SpecTimeout(framework.Timeout(time.Minute)))

	DescribeTable("forbids (403) what the Role does not grant",
		func(ctx context.Context, do func(ctx context.Context) error) {
			err := do(ctx)
			Expect(apierrors.IsForbidden(err)).To(BeTrue(), "want 403 Forbidden, got: %v", err)
		},
		Entry("list configmaps in another namespace", func(ctx context.Context) error {
			_, err := client.CoreV1().ConfigMaps(other).List(ctx, metav1.ListOptions{})
			return err
		}),
		Entry("list secrets in its namespace", func(ctx context.Context) error {
			_, err := client.CoreV1().Secrets(own).List(ctx, metav1.ListOptions{})
			return err
		}),
		Entry("create a configmap in its namespace", func(ctx context.Context) error {
			_, err := client.CoreV1().ConfigMaps(own).Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "nope"}}, metav1.CreateOptions{})
			return err
		}),
		Entry("list namespaces", func(ctx context.Context) error {
			_, err := client.CoreV1().Namespaces().List(ctx, metav1.ListOptions{})
			return err
		}),
	)
})
