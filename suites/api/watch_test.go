package api

import (
	"context"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
)

// A watch the server ends with 410 Expired (the datastore compacted the
// resourceVersion away) is told apart from any other ending: the replay
// spec then replays a fresh window instead of failing on the API's
// documented answer (run 20261207T182926Z failed so: "too old resource
// version: 516 (517)").
func TestCollectTellsExpiredApart(t *testing.T) {
	for _, tc := range []struct {
		name        string
		end         *metav1.Status
		wantExpired bool
	}{
		{"410 Expired", &metav1.Status{Status: metav1.StatusFailure, Code: 410, Reason: metav1.StatusReasonExpired, Message: "too old resource version: 516 (517)"}, true},
		{"500", &metav1.Status{Status: metav1.StatusFailure, Code: 500, Reason: metav1.StatusReasonInternalError}, false},
		{"410 without Expired", &metav1.Status{Status: metav1.StatusFailure, Code: 410, Reason: metav1.StatusReasonGone}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := watch.NewFakeWithChanSize(1, false)
			w.Error(tc.end)
			got, stopped, status := collect(context.Background(), w, 5, time.Minute)
			if len(got) != 0 || stopped == "" {
				t.Errorf("collect = %v, %q: want no event and why it stopped", got, stopped)
			}
			if isExpired(status) != tc.wantExpired {
				t.Errorf("isExpired(%+v) = %v, want %v", status, !tc.wantExpired, tc.wantExpired)
			}
		})
	}
}
