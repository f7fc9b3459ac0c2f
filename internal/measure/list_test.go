package measure

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
)

// namingClient is a fake cluster that names a generated namespace
// GenerateName+"x", as the apiserver would with a random suffix.
func namingClient() *fake.Clientset {
	cs := fake.NewClientset()
	cs.PrependReactor("create", "namespaces", func(a k8stesting.Action) (bool, runtime.Object, error) {
		ns := a.(k8stesting.CreateAction).GetObject().(*corev1.Namespace)
		if ns.Name == "" {
			ns.Name = ns.GenerateName + "x"
		}
		return false, nil, nil
	})
	return cs
}

func newTestListSet(t *testing.T, cs *fake.Clientset, objects int) *ListSet {
	t.Helper()
	s, err := NewListSet(context.Background(), cs, objects, 16, 4, nil)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestNewListSetFills: the set's own labelled namespace holds exactly the
// asked number of ConfigMaps of the asked size.
func TestNewListSetFills(t *testing.T) {
	cs := namingClient()
	var lines []string
	s, err := NewListSet(context.Background(), cs, 25, 16, 4, func(l string) { lines = append(lines, l) })
	if err != nil {
		t.Fatal(err)
	}
	if s.Namespace != "distrobench-list-x" || s.Objects != 25 {
		t.Errorf("ListSet{Namespace: %q, Objects: %d}, want distrobench-list-x and 25", s.Namespace, s.Objects)
	}
	ns, err := cs.CoreV1().Namespaces().Get(context.Background(), s.Namespace, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := ns.Labels["app.kubernetes.io/managed-by"]; got != "distrobench" {
		t.Errorf("namespace label managed-by=%q, want distrobench", got)
	}
	l, err := cs.CoreV1().ConfigMaps(s.Namespace).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(l.Items) != 25 {
		t.Errorf("%d ConfigMaps stored, want 25", len(l.Items))
	}
	for _, cm := range l.Items {
		if len(cm.Data["payload"]) != 16 {
			t.Fatalf("ConfigMap %s holds %d payload bytes, want 16", cm.Name, len(cm.Data["payload"]))
		}
	}
	if len(lines) == 0 {
		t.Error("no progress line while filling")
	}
}

// TestNewListSetFillFailsDeletesNamespace: a failed fill is an error and
// leaves no namespace behind.
func TestNewListSetFillFailsDeletesNamespace(t *testing.T) {
	cs := namingClient()
	cs.PrependReactor("create", "configmaps", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, errors.New("etcdserver: request timed out")
	})
	_, err := NewListSet(context.Background(), cs, 10, 16, 2, nil)
	if err == nil || !strings.Contains(err.Error(), "10 of 10 creates failed") {
		t.Fatalf("error %v, want one counting the failed creates", err)
	}
	if _, err := cs.CoreV1().Namespaces().Get(context.Background(), "distrobench-list-x", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("namespace after a failed fill: %v, want not found", err)
	}
}

func TestNewListSetRefusesBadArguments(t *testing.T) {
	cs := namingClient()
	for _, a := range [][3]int{{0, 16, 4}, {10, -1, 4}, {10, 16, 0}} {
		if _, err := NewListSet(context.Background(), cs, a[0], a[1], a[2], nil); err == nil {
			t.Errorf("objects %d, size %d, concurrency %d: no error", a[0], a[1], a[2])
		}
	}
	if _, err := NewListSet(context.Background(), nil, 10, 16, 4, nil); err == nil {
		t.Error("no client: no error")
	}
	if l, _ := cs.CoreV1().Namespaces().List(context.Background(), metav1.ListOptions{}); len(l.Items) != 0 {
		t.Errorf("refused arguments still created %d namespaces", len(l.Items))
	}
}

// TestListSetTime: one figure with n samples, the caller's labels plus
// objects=N (the caller's map untouched), and attributes saying how.
func TestListSetTime(t *testing.T) {
	cs := namingClient()
	s := newTestListSet(t, cs, 25)
	lists := 0
	cs.PrependReactor("list", "configmaps", func(a k8stesting.Action) (bool, runtime.Object, error) {
		if r := a.(k8stesting.ListAction).GetListRestrictions(); r.Labels.String() != "" || r.Fields.String() != "" {
			t.Errorf("list restricted by %+v, want the whole namespace", r)
		}
		lists++
		return false, nil, nil
	})
	labels := map[string]string{"datastore": "sqlite"}
	ms, err := s.Time(context.Background(), 3, labels)
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 1 {
		t.Fatalf("%d measurements, want 1", len(ms))
	}
	m := findM(t, ms, ListLatencyMetric, map[string]string{"datastore": "sqlite", "objects": "25"})
	if m.Unit != "seconds" || m.Summary.Count != 3 || lists != 3 {
		t.Errorf("%s: unit %q, %d samples from %d lists, want seconds and 3 of 3", m.Name, m.Unit, m.Summary.Count, lists)
	}
	if want := map[string]string{"datastore": "sqlite", "objects": "25"}; !maps.Equal(m.Labels, want) {
		t.Errorf("labels %v, want %v", m.Labels, want)
	}
	if len(labels) != 1 {
		t.Errorf("Time changed the caller's labels: %v", labels)
	}
	for k, want := range map[string]string{"list.requests": "3, one at a time", "list.objects": "25", "list.object_size": "16 bytes"} {
		if got := m.Attributes[k]; got != want {
			t.Errorf("attribute %s = %q, want %q", k, got, want)
		}
	}
	if !strings.Contains(m.Attributes["list.call"], "unpaginated") {
		t.Errorf("attribute list.call = %q, want it to say the list is unpaginated", m.Attributes["list.call"])
	}
}

// TestListSetTimeWrongCount: a list that misses a stored object is an
// error, and no figure is returned; what a controller adds to every
// namespace (kube-root-ca.crt) is listed but not counted. The old check
// (every item counted) failed every list on a real cluster: "listed 301
// objects, 300 are stored".
func TestListSetTimeWrongCount(t *testing.T) {
	for _, tc := range []struct {
		ours    int
		foreign bool
		wantErr bool
	}{{24, false, true}, {24, true, true}, {25, true, false}} {
		cs := namingClient()
		s := newTestListSet(t, cs, 25)
		calls := 0
		cs.PrependReactor("list", "configmaps", func(k8stesting.Action) (bool, runtime.Object, error) {
			calls++
			if calls != 2 {
				return false, nil, nil
			}
			l := &corev1.ConfigMapList{}
			for i := range tc.ours {
				l.Items = append(l.Items, corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: s.c.objectName(i)}})
			}
			if tc.foreign {
				l.Items = append(l.Items, corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "kube-root-ca.crt"}})
			}
			return true, l, nil
		})
		ms, err := s.Time(context.Background(), 3, nil)
		if !tc.wantErr {
			if err != nil || len(ms) != 1 {
				t.Errorf("25 of 25 and kube-root-ca.crt: %v, %d figures; want the figure", err, len(ms))
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("listed %d of the 25 objects stored", tc.ours)) || !strings.Contains(err.Error(), "1 of 3 lists failed") {
			t.Errorf("a list of %d of 25 (foreign %v): error %v, want one naming the wrong count", tc.ours, tc.foreign, err)
		}
		if ms != nil {
			t.Errorf("a list of %d of 25: figures %v returned beside the error", tc.ours, ms)
		}
	}
}

func TestListSetTimeListError(t *testing.T) {
	cs := namingClient()
	s := newTestListSet(t, cs, 5)
	cs.PrependReactor("list", "configmaps", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewTimeoutError("too slow", 1)
	})
	if _, err := s.Time(context.Background(), 2, nil); !apierrors.IsTimeout(err) {
		t.Errorf("error %v, want the list's timeout wrapped", err)
	}
	if _, err := s.Time(context.Background(), 0, nil); err == nil {
		t.Error("zero lists: no error")
	}
}

func TestListSetDelete(t *testing.T) {
	cs := namingClient()
	s := newTestListSet(t, cs, 5)
	if err := s.Delete(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := cs.CoreV1().Namespaces().Get(context.Background(), s.Namespace, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("namespace after Delete: %v, want not found", err)
	}
	if err := s.Delete(context.Background()); !apierrors.IsNotFound(err) {
		t.Errorf("second Delete: %v, want the not-found error returned", err)
	}
}
