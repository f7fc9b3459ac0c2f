package server

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
	componentbaseconfig "k8s.io/component-base/config"
)

func testElection() componentbaseconfig.LeaderElectionConfiguration {
	return componentbaseconfig.LeaderElectionConfiguration{
		LeaderElect:   true,
		LeaseDuration: metav1.Duration{Duration: 15 * time.Second},
		RenewDeadline: metav1.Duration{Duration: 10 * time.Second},
		RetryPeriod:   metav1.Duration{Duration: 100 * time.Millisecond},
	}
}

// TestRunLeadingReleasesLeaseOnShutdown: cancelling the context stops the
// component, returns nil (a requested shutdown is not an error) and leaves
// the lease free for the next start.
func TestRunLeadingReleasesLeaseOnShutdown(t *testing.T) {
	client := fake.NewClientset()
	lock := &resourcelock.LeaseLock{
		LeaseMeta:  metav1.ObjectMeta{Namespace: "kube-system", Name: "kube-scheduler"},
		Client:     client.CoordinationV1(),
		LockConfig: resourcelock.ResourceLockConfig{Identity: "me"},
	}
	ctx, cancel := context.WithCancel(context.Background())
	running := make(chan struct{})
	stopped := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- runLeading(ctx, "kube-scheduler", testElection(), lock, func(ctx context.Context) error {
			close(running)
			<-ctx.Done()
			close(stopped)
			return nil
		})
	}()
	<-running
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("runLeading after cancel = %v, want nil", err)
	}
	select {
	case <-stopped:
	default:
		t.Fatal("runLeading returned before the component stopped")
	}
	lease, err := client.CoordinationV1().Leases("kube-system").Get(context.Background(), "kube-scheduler", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if h := lease.Spec.HolderIdentity; h != nil && *h != "" {
		t.Errorf("lease still held by %q after shutdown", *h)
	}
}

// TestRunLeadingReportsComponentFailure: a component that stops on its own
// ends the election and is an error naming it, so the server exits non-zero.
func TestRunLeadingReportsComponentFailure(t *testing.T) {
	client := fake.NewClientset()
	lock := &resourcelock.LeaseLock{
		LeaseMeta:  metav1.ObjectMeta{Namespace: "kube-system", Name: "kube-controller-manager"},
		Client:     client.CoordinationV1(),
		LockConfig: resourcelock.ResourceLockConfig{Identity: "me"},
	}
	err := runLeading(context.Background(), "kube-controller-manager", testElection(), lock, func(context.Context) error {
		return errors.New("controller shutdown timeout reached")
	})
	if err == nil || !strings.Contains(err.Error(), "kube-controller-manager") || !strings.Contains(err.Error(), "timeout reached") {
		t.Fatalf("runLeading = %v, want the component's error", err)
	}
}
