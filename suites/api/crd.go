package api

import (
	"context"
	"fmt"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	apiextv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/rand"

	"github.com/distrobench/distrobench/suites/framework"
)

// crdGVR is the resource of CustomResourceDefinitions. The suite handles
// CRDs through the dynamic client: the typed apiextensions clientset would
// add megabytes to the harness binary for one spec.
var crdGVR = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}

var _ = describe("custom resources", Ordered, Label(framework.LabelAPI, framework.LabelCRD), func() {
	var (
		ns      string
		group   string
		crdName string
		gvr     schema.GroupVersionResource
	)

	BeforeAll(func(ctx context.Context) {
		ns = framework.NewNamespace(ctx, "crd").Name
		// A group of its own per run: runs never see each other's CRDs.
		group = fmt.Sprintf("r%s.conformance.distrobench.io", rand.String(6))
		gvr = schema.GroupVersionResource{Group: group, Version: "v1", Resource: "widgets"}
		crdName = gvr.Resource + "." + group
		// Registered here, not in a spec: a DeferCleanup in an It runs when
		// that It ends, and the CRD must outlive it.
		DeferCleanup(func(ctx context.Context) error {
			err := framework.Dynamic().Resource(crdGVR).Delete(ctx, crdName, metav1.DeleteOptions{})
			if apierrors.IsNotFound(err) {
				return nil
			}
			return err
		})
	})

	It("creates a CRD that becomes Established", func(ctx SpecContext) {
		crd := &apiextv1.CustomResourceDefinition{
			TypeMeta:   metav1.TypeMeta{APIVersion: "apiextensions.k8s.io/v1", Kind: "CustomResourceDefinition"},
			ObjectMeta: metav1.ObjectMeta{Name: crdName},
			Spec: apiextv1.CustomResourceDefinitionSpec{
				Group: group,
				Scope: apiextv1.NamespaceScoped,
				Names: apiextv1.CustomResourceDefinitionNames{Plural: "widgets", Singular: "widget", Kind: "Widget", ListKind: "WidgetList"},
				Versions: []apiextv1.CustomResourceDefinitionVersion{{
					Name: "v1", Served: true, Storage: true,
					Subresources: &apiextv1.CustomResourceSubresources{Status: &apiextv1.CustomResourceSubresourceStatus{}},
					Schema: &apiextv1.CustomResourceValidation{OpenAPIV3Schema: &apiextv1.JSONSchemaProps{
						Type: "object",
						Properties: map[string]apiextv1.JSONSchemaProps{
							"spec": {Type: "object", Properties: map[string]apiextv1.JSONSchemaProps{
								"size": {Type: "integer", Minimum: ptr(0.0)},
							}},
							"status": {Type: "object", Properties: map[string]apiextv1.JSONSchemaProps{
								"ready": {Type: "boolean"},
							}},
						},
					}},
				}},
			},
		}
		obj, err := runtime.DefaultUnstructuredConverter.ToUnstructured(crd)
		Expect(err).NotTo(HaveOccurred())
		crds := framework.Dynamic().Resource(crdGVR)
		_, err = crds.Create(ctx, &unstructured.Unstructured{Object: obj}, metav1.CreateOptions{})
		Expect(err).NotTo(HaveOccurred())

		Eventually(func(ctx context.Context) (map[string]string, error) {
			u, err := crds.Get(ctx, crdName, metav1.GetOptions{})
			if err != nil {
				return nil, err
			}
			var got apiextv1.CustomResourceDefinition
			if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &got); err != nil {
				return nil, err
			}
			conds := map[string]string{}
			for _, c := range got.Status.Conditions {
				conds[string(c.Type)] = string(c.Status)
			}
			return conds, nil
		}).WithContext(ctx).WithTimeout(framework.Timeout(time.Minute)).WithPolling(250 * time.Millisecond).
			Should(And(HaveKeyWithValue("Established", "True"), HaveKeyWithValue("NamesAccepted", "True")))

		Eventually(func() error {
			_, err := framework.ClientSet().Discovery().ServerResourcesForGroupVersion(group + "/v1")
			return err
		}).WithContext(ctx).WithTimeout(framework.Timeout(time.Minute)).WithPolling(250*time.Millisecond).
			Should(Succeed(), "%s/v1 never shows up in discovery", group)
	}, SpecTimeout(framework.Timeout(3*time.Minute)))

	It("creates, lists, updates and validates custom resources", func(ctx SpecContext) {
		c := framework.Dynamic().Resource(gvr).Namespace(ns)
		widget := func(name string, size int64) *unstructured.Unstructured {
			return &unstructured.Unstructured{Object: map[string]any{
				"apiVersion": group + "/v1",
				"kind":       "Widget",
				"metadata":   map[string]any{"name": name},
				"spec":       map[string]any{"size": size},
			}}
		}
		// The CRD is Established but a freshly started API server handler
		// may still answer 404 for a moment.
		Eventually(func(ctx context.Context) error {
			_, err := c.Create(ctx, widget("w1", 1), metav1.CreateOptions{})
			return err
		}).WithContext(ctx).WithTimeout(framework.Timeout(30 * time.Second)).WithPolling(250 * time.Millisecond).Should(Succeed())
		_, err := c.Create(ctx, widget("w2", 2), metav1.CreateOptions{})
		Expect(err).NotTo(HaveOccurred())

		list, err := c.List(ctx, metav1.ListOptions{})
		Expect(err).NotTo(HaveOccurred())
		Expect(names(list.Items)).To(ConsistOf("w1", "w2"))

		w1, err := c.Get(ctx, "w1", metav1.GetOptions{})
		Expect(err).NotTo(HaveOccurred())
		Expect(unstructured.SetNestedField(w1.Object, int64(10), "spec", "size")).To(Succeed())
		w1, err = c.Update(ctx, w1, metav1.UpdateOptions{})
		Expect(err).NotTo(HaveOccurred())
		size, _, _ := unstructured.NestedInt64(w1.Object, "spec", "size")
		Expect(size).To(BeEquivalentTo(10))

		Expect(unstructured.SetNestedField(w1.Object, true, "status", "ready")).To(Succeed())
		w1, err = c.UpdateStatus(ctx, w1, metav1.UpdateOptions{})
		Expect(err).NotTo(HaveOccurred())
		ready, _, _ := unstructured.NestedBool(w1.Object, "status", "ready")
		Expect(ready).To(BeTrue())

		_, err = c.Create(ctx, widget("bad", -1), metav1.CreateOptions{})
		Expect(apierrors.IsInvalid(err)).To(BeTrue(), "a widget with size -1 must fail schema validation: %v", err)

		Expect(c.Delete(ctx, "w2", metav1.DeleteOptions{})).To(Succeed())
		list, err = c.List(ctx, metav1.ListOptions{})
		Expect(err).NotTo(HaveOccurred())
		Expect(names(list.Items)).To(ConsistOf("w1"))
	}, SpecTimeout(framework.Timeout(2*time.Minute)))

	It("deletes the CRD together with its custom resources", func(ctx SpecContext) {
		Expect(framework.Dynamic().Resource(crdGVR).Delete(ctx, crdName, metav1.DeleteOptions{})).To(Succeed())
		Eventually(func(ctx context.Context) error {
			_, err := framework.Dynamic().Resource(crdGVR).Get(ctx, crdName, metav1.GetOptions{})
			return err
		}).WithContext(ctx).WithTimeout(framework.Timeout(time.Minute)).WithPolling(250*time.Millisecond).
			Should(Satisfy(apierrors.IsNotFound), "CRD %s is never removed", crdName)
		Eventually(func(ctx context.Context) error {
			_, err := framework.Dynamic().Resource(gvr).Namespace(ns).List(ctx, metav1.ListOptions{})
			return err
		}).WithContext(ctx).WithTimeout(framework.Timeout(30*time.Second)).WithPolling(250*time.Millisecond).
			Should(Satisfy(apierrors.IsNotFound), "%s is still served after its CRD was deleted", gvr.Resource)
	}, SpecTimeout(framework.Timeout(2*time.Minute)))
})

func ptr[T any](v T) *T { return &v }
