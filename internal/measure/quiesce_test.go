package measure

import (
	"context"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
)

var quickSettle = Settle{Min: 0, Max: 2 * time.Second, Interval: 20 * time.Millisecond, CPU: 25}

func terminating(name string) *corev1.Namespace {
	return &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}, Status: corev1.NamespaceStatus{Phase: corev1.NamespaceTerminating}}
}

// TestQuiesceWaitsForTerminatingNamespaces: the load must not start while
// the namespaces the suites deleted are still being emptied.
func TestQuiesceWaitsForTerminatingNamespaces(t *testing.T) {
	cs := fake.NewClientset(terminating("e2e-1"), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "default"}})
	var lists atomic.Int32
	cs.PrependReactor("list", "namespaces", func(k8stesting.Action) (bool, runtime.Object, error) {
		// The namespace controller finishes on the third look.
		if lists.Add(1) == 3 {
			if err := cs.Tracker().Delete(corev1.SchemeGroupVersion.WithResource("namespaces"), "", "e2e-1"); err != nil {
				t.Error(err)
			}
		}
		return false, nil, nil
	})
	got, err := Quiesce(context.Background(), QuiesceOptions{Client: cs, Settle: quickSettle})
	if err != nil {
		t.Fatal(err)
	}
	if n := lists.Load(); n < 3 {
		t.Errorf("Quiesce returned after %d lists, while e2e-1 was still terminating: %q", n, got)
	}
	if !strings.HasPrefix(got, "no namespace terminating") {
		t.Errorf("Quiesce = %q, want it to say no namespace is terminating", got)
	}
}

// TestQuiesceSaysWhenNotQuiet: a namespace stuck terminating ends the wait
// after Settle.Max and the result names it, without failing the run.
func TestQuiesceSaysWhenNotQuiet(t *testing.T) {
	cs := fake.NewClientset(terminating("stuck"))
	s := quickSettle
	s.Max = 100 * time.Millisecond
	got, err := Quiesce(context.Background(), QuiesceOptions{Client: cs, Settle: s})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(got, "NOT quiet") || !strings.Contains(got, "stuck") {
		t.Errorf("Quiesce = %q, want it to say namespace stuck is still terminating", got)
	}
}

// TestQuiesceWaitsForIdleUnits: a unit burning CPU keeps the load from
// starting until it stops (or Settle.Max passes, said in the result).
func TestQuiesceWaitsForIdleUnits(t *testing.T) {
	busy := exec.Command("sh", "-c", "while :; do :; done")
	if err := busy.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = busy.Process.Kill(); _ = busy.Wait() })
	// A threshold of 5 % of a core: a busy loop stays above it even on a
	// machine loaded enough to starve it (25 % flaked there once).
	s := Settle{Min: 0, Max: 600 * time.Millisecond, Interval: 200 * time.Millisecond, CPU: 5}
	got, err := Quiesce(context.Background(), QuiesceOptions{Units: []Unit{{Name: "node0", Role: RoleServer, PID: busy.Process.Pid}}, Settle: s})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(got, "NOT settled") || !strings.Contains(got, "node0") {
		t.Errorf("Quiesce with a busy unit = %q, want it to say node0 did not settle", got)
	}

	idle := exec.Command("sleep", "60")
	if err := idle.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = idle.Process.Kill(); _ = idle.Wait() })
	got, err = Quiesce(context.Background(), QuiesceOptions{Units: []Unit{{Name: "node0", Role: RoleServer, PID: idle.Process.Pid}}, Settle: s})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(got, "nodes settled") {
		t.Errorf("Quiesce with an idle unit = %q, want settled", got)
	}
}
