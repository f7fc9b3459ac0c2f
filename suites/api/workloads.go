package api

import (
	"context"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/distrobench/distrobench/suites/framework"
)

// PauseImage is the image of the workload specs. It is never pulled
// (imagePullPolicy Never): the specs assert on API objects only, and pods may
// stay Pending on a cluster without nodes.
const PauseImage = "registry.k8s.io/pause:3.10.2"

var _ = describe("Deployment -> ReplicaSet -> Pods", Ordered, Label(framework.LabelAPI, framework.LabelControllers), func() {
	var (
		ns     string
		deploy *appsv1.Deployment
	)

	BeforeAll(func(ctx context.Context) {
		ns = framework.NewNamespace(ctx, "deploy").Name
	})

	// podsOf returns the names of the live (not terminating) pods owned by
	// the deployment's current ReplicaSet.
	podsOf := func(ctx context.Context) ([]string, error) {
		rs, err := currentReplicaSet(ctx, ns, deploy)
		if err != nil || rs == nil {
			return nil, err
		}
		pods, err := framework.ClientSet().CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return nil, err
		}
		var out []string
		for _, p := range pods.Items {
			if p.DeletionTimestamp == nil && controlledBy(p.OwnerReferences, rs.UID) {
				out = append(out, p.Name)
			}
		}
		return out, nil
	}

	It("creates a ReplicaSet for a Deployment", func(ctx SpecContext) {
		var err error
		deploy, err = framework.ClientSet().AppsV1().Deployments(ns).Create(ctx, pauseDeployment("pause", 2), metav1.CreateOptions{})
		Expect(err).NotTo(HaveOccurred())
		Eventually(func(ctx context.Context) (*appsv1.ReplicaSet, error) {
			return currentReplicaSet(ctx, ns, deploy)
		}).WithContext(ctx).WithTimeout(framework.Timeout(time.Minute)).WithPolling(500*time.Millisecond).
			Should(And(Not(BeNil()), HaveField("Spec.Replicas", HaveValue(BeEquivalentTo(2)))),
				"no ReplicaSet of 2 replicas owned by the Deployment (is the deployment controller running?)")
	}, SpecTimeout(framework.Timeout(2*time.Minute)))

	It("creates the Pods of the ReplicaSet", func(ctx SpecContext) {
		Eventually(podsOf).WithContext(ctx).WithTimeout(framework.Timeout(time.Minute)).WithPolling(500*time.Millisecond).
			Should(HaveLen(2), "pods owned by the ReplicaSet (is the replicaset controller running?)")
		Eventually(func(ctx context.Context) (appsv1.DeploymentStatus, error) {
			d, err := framework.ClientSet().AppsV1().Deployments(ns).Get(ctx, deploy.Name, metav1.GetOptions{})
			if err != nil {
				return appsv1.DeploymentStatus{}, err
			}
			return d.Status, nil
		}).WithContext(ctx).WithTimeout(framework.Timeout(time.Minute)).WithPolling(500 * time.Millisecond).
			Should(And(HaveField("ObservedGeneration", BeNumerically(">=", deploy.Generation)), HaveField("Replicas", BeEquivalentTo(2))))
	}, SpecTimeout(framework.Timeout(2*time.Minute)))

	DescribeTable("scales the Pods with the Deployment's scale subresource",
		func(ctx SpecContext, replicas int) {
			c := framework.ClientSet().AppsV1().Deployments(ns)
			_, err := c.UpdateScale(ctx, deploy.Name, &autoscalingv1.Scale{
				ObjectMeta: metav1.ObjectMeta{Name: deploy.Name, Namespace: ns},
				Spec:       autoscalingv1.ScaleSpec{Replicas: int32(replicas)},
			}, metav1.UpdateOptions{})
			Expect(err).NotTo(HaveOccurred())
			Eventually(podsOf).WithContext(ctx).WithTimeout(framework.Timeout(time.Minute)).WithPolling(500 * time.Millisecond).
				Should(HaveLen(replicas))
			scale, err := c.GetScale(ctx, deploy.Name, metav1.GetOptions{})
			Expect(err).NotTo(HaveOccurred())
			Expect(scale.Spec.Replicas).To(BeEquivalentTo(replicas))
		},
		Entry("up to 4", 4, SpecTimeout(framework.Timeout(2*time.Minute))),
		Entry("down to 1", 1, SpecTimeout(framework.Timeout(2*time.Minute))),
	)
})

// pauseDeployment is a Deployment of pause containers that passes the
// "restricted" Pod Security Standard, so it is admitted on hardened
// distributions too.
func pauseDeployment(name string, replicas int32) *appsv1.Deployment {
	labels := map[string]string{"app": name}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{
					AutomountServiceAccountToken:  ptr(false),
					TerminationGracePeriodSeconds: ptr(int64(0)),
					SecurityContext: &corev1.PodSecurityContext{
						RunAsNonRoot:   ptr(true),
						RunAsUser:      ptr(int64(65535)),
						SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
					},
					Containers: []corev1.Container{{
						Name:            "pause",
						Image:           PauseImage,
						ImagePullPolicy: corev1.PullNever,
						SecurityContext: &corev1.SecurityContext{
							AllowPrivilegeEscalation: ptr(false),
							Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
						},
					}},
				},
			},
		},
	}
}

// currentReplicaSet returns the ReplicaSet the Deployment controls whose
// template matches the Deployment's (the only one here: the template never
// changes), or nil when there is none yet.
func currentReplicaSet(ctx context.Context, ns string, d *appsv1.Deployment) (*appsv1.ReplicaSet, error) {
	list, err := framework.ClientSet().AppsV1().ReplicaSets(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	for i := range list.Items {
		if controlledBy(list.Items[i].OwnerReferences, d.UID) {
			return &list.Items[i], nil
		}
	}
	return nil, nil
}

func controlledBy(refs []metav1.OwnerReference, uid types.UID) bool {
	for _, r := range refs {
		if r.Controller != nil && *r.Controller && r.UID == uid {
			return true
		}
	}
	return false
}
