package measure

import (
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
)

// compactsAfter makes cs a cluster at revision 1077 after the deletions
// whose datastore compacts revision 77 (1000 before: kine keeps the latest
// 1000) away after answers exact-revision lists of it (then 410 Gone;
// never when answers < 0). It returns how many such lists were made; an
// exact list of any other revision is an error.
func compactsAfter(cs *fake.Clientset, answers int) *int {
	asked := new(int)
	cs.PrependReactor("list", "configmaps", func(a k8stesting.Action) (bool, runtime.Object, error) {
		o := a.(k8stesting.ListActionImpl).ListOptions
		switch {
		case o.ResourceVersionMatch == metav1.ResourceVersionMatchExact && o.ResourceVersion == "77":
			*asked++
			if answers >= 0 && *asked > answers {
				return true, nil, apierrors.NewResourceExpired("too old resource version: 77 (80)")
			}
			return true, &corev1.ConfigMapList{}, nil
		case o.ResourceVersionMatch != "":
			return true, nil, apierrors.NewBadRequest("unexpected resourceVersionMatch " + string(o.ResourceVersionMatch))
		case o.Limit == 1: // the revision after the deletions
			return true, &corev1.ConfigMapList{ListMeta: metav1.ListMeta{ResourceVersion: "1077"}}, nil
		}
		return false, nil, nil
	})
	return asked
}

func pendingCompaction(t *testing.T, answers int) (*Compaction, *int) {
	t.Helper()
	cs := namingClient()
	asked := compactsAfter(cs, answers)
	_, pending, err := Growth(context.Background(), GrowthOptions{Client: cs, Steps: []int{5}, ObjectSize: 16, Writes: 2, Lists: 1,
		Memory: func(context.Context) (float64, error) { return 1, nil }, CompactionPoll: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	return pending, asked
}

// A datastore that does not compact in time leaves the point not measured,
// with the reason, and the run goes on.
func TestCompactionTimesOut(t *testing.T) {
	pending, asked := pendingCompaction(t, -1)
	ms, err := pending.Wait(context.Background(), 30*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 2 || !strings.Contains(ms[0].Missing, "revision 77 not compacted 30ms after the deletions") || ms[0].Labels[StageLabel] != StageCompacted {
		t.Errorf("%+v: want memory and size not measured, saying why", ms)
	}
	if *asked < 2 {
		t.Errorf("asked %d times: want it asked until the timeout", *asked)
	}
}

func TestCompactionNotWaitedOrCancelled(t *testing.T) {
	pending, asked := pendingCompaction(t, -1)
	if ms, err := pending.Wait(context.Background(), 0); err != nil || len(ms) != 2 || !strings.Contains(ms[1].Missing, "not waited for") || *asked != 0 {
		t.Errorf("timeout 0: %+v %v (asked %d): want not measured without asking", ms, err, *asked)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := pending.Wait(ctx, time.Minute); err == nil {
		t.Error("a cancelled wait must be an error")
	}
}

// Another error than 410 Gone is not read as compaction.
func TestCompactionOtherErrorIsNotCompaction(t *testing.T) {
	cs := namingClient()
	cs.PrependReactor("list", "configmaps", func(a k8stesting.Action) (bool, runtime.Object, error) {
		switch o := a.(k8stesting.ListActionImpl).ListOptions; {
		case o.ResourceVersionMatch != "":
			return true, nil, apierrors.NewForbidden(schema.GroupResource{Resource: "configmaps"}, "", nil)
		case o.Limit == 1:
			return true, &corev1.ConfigMapList{ListMeta: metav1.ListMeta{ResourceVersion: "5"}}, nil
		}
		return false, nil, nil
	})
	_, pending, err := Growth(context.Background(), GrowthOptions{Client: cs, Steps: []int{5}, ObjectSize: 16, Writes: 2, Lists: 1, CompactionPoll: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ms, err := pending.Wait(context.Background(), time.Minute)
	if err != nil || !strings.Contains(ms[0].Missing, "asking whether revision") || !strings.Contains(ms[0].Missing, "forbidden") {
		t.Errorf("%+v %v: want not measured with the error", ms, err)
	}
}
