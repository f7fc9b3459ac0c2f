package addons

import (
	"bytes"
	"context"
	"log/slog"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/meta/testrestmapper"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	"k8s.io/client-go/kubernetes/scheme"
	k8stesting "k8s.io/client-go/testing"

	"github.com/distrobench/distrobench/distro/pkg/bootstrap"
)

func defaultOptions() Options {
	return Options{ClusterDNS: "10.43.0.10", ClusterDomain: "cluster.local"}
}

// decodeStrict decodes obj with the Kubernetes scheme, failing on unknown
// or duplicate fields: a typo in a manifest fails here, not at apply time.
func decodeStrict(t *testing.T, obj *unstructured.Unstructured) runtime.Object {
	t.Helper()
	data, err := obj.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	codecs := serializer.NewCodecFactory(scheme.Scheme, serializer.EnableStrict)
	out, _, err := codecs.UniversalDeserializer().Decode(data, nil, nil)
	if err != nil {
		t.Fatalf("%s %s does not decode strictly: %v", obj.GetKind(), obj.GetName(), err)
	}
	return out
}

func TestRenderDecodesEveryManifest(t *testing.T) {
	ms, err := Render(defaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	typed := map[string]runtime.Object{}
	for _, m := range ms {
		names = append(names, m.Name)
		if !m.Enabled {
			t.Errorf("%s disabled without --disable", m.Name)
		}
		if len(m.Objects) == 0 {
			t.Errorf("%s has no objects", m.Name)
		}
		for _, o := range m.Objects {
			if o.GetLabels()[LabelAddon] != m.Name {
				t.Errorf("%s %s lacks label %s=%s", o.GetKind(), o.GetName(), LabelAddon, m.Name)
			}
			typed[o.GetKind()+"/"+o.GetName()] = decodeStrict(t, o)
		}
	}
	if !slices.Equal(names, []string{"rbac", CoreDNS}) {
		t.Fatalf("manifests %v", names)
	}

	svc := typed["Service/kube-dns"].(*corev1.Service)
	if svc.Namespace != "kube-system" || svc.Spec.ClusterIP != "10.43.0.10" || len(svc.Spec.Ports) != 3 {
		t.Errorf("kube-dns service: %+v", svc.Spec)
	}
	dep := typed["Deployment/coredns"].(*appsv1.Deployment)
	pod := dep.Spec.Template.Spec
	c := pod.Containers[0]
	if *dep.Spec.Replicas != 1 || c.Image != bootstrap.CoreDNSImage || c.ImagePullPolicy != corev1.PullIfNotPresent {
		t.Errorf("coredns deployment: replicas %d image %s policy %s", *dep.Spec.Replicas, c.Image, c.ImagePullPolicy)
	}
	if pod.PriorityClassName != "system-cluster-critical" || pod.ServiceAccountName != "coredns" || pod.DNSPolicy != corev1.DNSDefault {
		t.Errorf("coredns pod spec: %+v", pod)
	}
	if !slices.ContainsFunc(pod.Tolerations, func(tl corev1.Toleration) bool {
		return tl.Key == "node-role.kubernetes.io/control-plane" && tl.Effect == corev1.TaintEffectNoSchedule
	}) {
		t.Error("coredns does not tolerate the control-plane taint")
	}
	if !metav1.HasLabel(dep.Spec.Template.ObjectMeta, "k8s-app") || dep.Spec.Template.Labels["k8s-app"] != svc.Spec.Selector["k8s-app"] {
		t.Error("the kube-dns Service does not select the CoreDNS pods")
	}
	cm := typed["ConfigMap/coredns"].(*corev1.ConfigMap)
	corefile := cm.Data["Corefile"]
	for _, want := range []string{"errors", "health", "ready", "kubernetes cluster.local in-addr.arpa ip6.arpa", "forward . /etc/resolv.conf", "cache 30", "loop", "reload", "loadbalance"} {
		if !strings.Contains(corefile, want) {
			t.Errorf("Corefile lacks %q:\n%s", want, corefile)
		}
	}
	role := typed["ClusterRole/system:coredns"].(*rbacv1.ClusterRole)
	if !slices.ContainsFunc(role.Rules, func(r rbacv1.PolicyRule) bool { return slices.Contains(r.Resources, "endpointslices") }) {
		t.Error("CoreDNS may not watch EndpointSlices")
	}

	kp := typed["ClusterRoleBinding/system:kube-proxy"].(*rbacv1.ClusterRoleBinding)
	if kp.RoleRef.Name != "system:node-proxier" || kp.Subjects[0].Name != "system:kube-proxy" || kp.Subjects[0].Kind != rbacv1.UserKind {
		t.Errorf("kube-proxy binding %+v", kp)
	}
	ac := typed["ClusterRoleBinding/system:k3lite-agent-controller"].(*rbacv1.ClusterRoleBinding)
	if ac.Subjects[0].Name != bootstrap.AgentControllerCN || ac.RoleRef.Name != "system:k3lite-agent-controller" {
		t.Errorf("agent-controller binding %+v", ac)
	}
	acRole := typed["ClusterRole/system:k3lite-agent-controller"].(*rbacv1.ClusterRole)
	allows := func(res, verb string) bool {
		return slices.ContainsFunc(acRole.Rules, func(r rbacv1.PolicyRule) bool {
			return slices.Contains(r.Resources, res) && slices.Contains(r.Verbs, verb)
		})
	}
	for _, rv := range [][2]string{{"nodes", "get"}, {"nodes", "list"}, {"nodes", "watch"}, {"nodes", "patch"}, {"nodes/status", "patch"}, {"nodes/status", "update"}} {
		if !allows(rv[0], rv[1]) {
			t.Errorf("agent controller may not %s %s", rv[1], rv[0])
		}
	}
}

func TestRenderUsesOptions(t *testing.T) {
	ms, err := Render(Options{ClusterDNS: "fd00:43::a", ClusterDomain: "k3lite.test"})
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range ms[1].Objects {
		switch obj := decodeStrict(t, o).(type) {
		case *corev1.Service:
			if obj.Spec.ClusterIP != "fd00:43::a" {
				t.Errorf("ClusterIP %s", obj.Spec.ClusterIP)
			}
		case *corev1.ConfigMap:
			if !strings.Contains(obj.Data["Corefile"], "kubernetes k3lite.test in-addr.arpa") {
				t.Errorf("Corefile does not serve the domain:\n%s", obj.Data["Corefile"])
			}
		}
	}
}

func TestRenderRejectsBadOptions(t *testing.T) {
	_, err := Render(Options{ClusterDNS: "10.43.0.300", ClusterDomain: "bad domain\nx: y", Disabled: []string{"traefik"}})
	if err == nil {
		t.Fatal("want an error")
	}
	for _, want := range []string{"--cluster-dns", "--cluster-domain", "traefik"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %s", err, want)
		}
	}
}

func TestParseDisable(t *testing.T) {
	got, err := ParseDisable([]string{"coredns", " CoreDNS ,", ""})
	if err != nil || !slices.Equal(got, []string{CoreDNS}) {
		t.Errorf("got %v, %v", got, err)
	}
	got, err = ParseDisable(nil)
	if err != nil || len(got) != 0 {
		t.Errorf("empty: %v, %v", got, err)
	}
	_, err = ParseDisable([]string{"coredns,traefik", "servicelb"})
	if err == nil || !strings.Contains(err.Error(), `"traefik", "servicelb"`) || !strings.Contains(err.Error(), "valid add-ons are coredns") {
		t.Errorf("err %v, want the unknown names and the valid ones", err)
	}
}

func TestRenderMarksDisabled(t *testing.T) {
	o := defaultOptions()
	o.Disabled = []string{"coredns"}
	ms, err := Render(o)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range ms {
		if want := m.Name != CoreDNS; m.Enabled != want {
			t.Errorf("%s enabled=%v, want %v (the RBAC is never disabled)", m.Name, m.Enabled, want)
		}
	}
}

func newFakeApplier(t *testing.T, objs ...runtime.Object) (*applier, *dynamicfake.FakeDynamicClient, *bytes.Buffer) {
	t.Helper()
	gvrs := map[schema.GroupVersionResource]string{
		{Version: "v1", Resource: "serviceaccounts"}:                                         "ServiceAccountList",
		{Version: "v1", Resource: "configmaps"}:                                              "ConfigMapList",
		{Version: "v1", Resource: "services"}:                                                "ServiceList",
		{Group: "apps", Version: "v1", Resource: "deployments"}:                              "DeploymentList",
		{Group: "rbac.authorization.k8s.io", Version: "v1", Resource: "clusterroles"}:        "ClusterRoleList",
		{Group: "rbac.authorization.k8s.io", Version: "v1", Resource: "clusterrolebindings"}: "ClusterRoleBindingList",
	}
	dyn := dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(), gvrs, objs...)
	logs := &bytes.Buffer{}
	return &applier{dyn: dyn, mapper: testrestmapper.TestOnlyStaticRESTMapper(scheme.Scheme), log: slog.New(slog.NewTextHandler(logs, nil))}, dyn, logs
}

func TestApplyAllUsesServerSideApply(t *testing.T) {
	ms, err := Render(defaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	a, dyn, logs := newFakeApplier(t)
	var applied []string
	dyn.PrependReactor("patch", "*", func(action k8stesting.Action) (bool, runtime.Object, error) {
		p := action.(k8stesting.PatchActionImpl)
		if p.GetPatchType() != "application/apply-patch+yaml" || p.PatchOptions.FieldManager != FieldManager || p.PatchOptions.Force == nil || !*p.PatchOptions.Force {
			t.Errorf("%s %s: not a forced server-side apply by %s: %+v", p.GetResource().Resource, p.GetName(), FieldManager, p.PatchOptions)
		}
		applied = append(applied, p.GetResource().Resource+"/"+p.GetNamespace()+"/"+p.GetName())
		return true, &unstructured.Unstructured{}, nil
	})
	if err := a.applyAll(context.Background(), ms); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"deployments/kube-system/coredns", "services/kube-system/kube-dns", "clusterrolebindings//system:kube-proxy", "clusterroles//system:k3lite-agent-controller"} {
		if !slices.Contains(applied, want) {
			t.Errorf("%s not applied; applied: %v", want, applied)
		}
	}
	if !strings.Contains(logs.String(), "applied add-on") {
		t.Error("no progress logged")
	}
	// A second pass (a retry after a later failure) skips what is done.
	n := len(applied)
	if err := a.applyAll(context.Background(), ms); err != nil || len(applied) != n {
		t.Errorf("second pass re-applied: %d -> %d, %v", n, len(applied), err)
	}
}

func TestRemoveDeletesOnlyOwnedObjects(t *testing.T) {
	o := defaultOptions()
	o.Disabled = []string{CoreDNS}
	ms, err := Render(o)
	if err != nil {
		t.Fatal(err)
	}
	owned := &unstructured.Unstructured{}
	owned.SetAPIVersion("apps/v1")
	owned.SetKind("Deployment")
	owned.SetNamespace("kube-system")
	owned.SetName("coredns")
	owned.SetLabels(map[string]string{LabelAddon: CoreDNS})
	foreign := &unstructured.Unstructured{}
	foreign.SetAPIVersion("v1")
	foreign.SetKind("Service")
	foreign.SetNamespace("kube-system")
	foreign.SetName("kube-dns")
	a, dyn, _ := newFakeApplier(t, owned, foreign)
	dyn.PrependReactor("patch", "*", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, &unstructured.Unstructured{}, nil
	})
	if err := a.applyAll(context.Background(), ms); err != nil {
		t.Fatal(err)
	}
	var deleted []string
	for _, act := range dyn.Actions() {
		if act.GetVerb() == "delete" {
			deleted = append(deleted, act.GetResource().Resource)
		}
	}
	if !slices.Equal(deleted, []string{"deployments"}) {
		t.Errorf("deleted %v, want only k3lite's deployment (the unlabelled kube-dns Service is someone else's)", deleted)
	}
}
