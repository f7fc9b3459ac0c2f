package chatter

import (
	"slices"
	"testing"

	flowcontrolv1 "k8s.io/api/flowcontrol/v1"
)

func TestClientFlowSchemas(t *testing.T) {
	subjects := append(slices.Clone(StandardClients), ClientSubject{Client: "flannel", User: "system:k3s-controller", PriorityLevel: "global-default"})
	schemas := ClientFlowSchemas(subjects)
	if len(schemas) != len(subjects) {
		t.Fatalf("%d schemas for %d subjects", len(schemas), len(subjects))
	}
	wantSubjects := map[string]flowcontrolv1.Subject{
		"kube-proxy": {Kind: flowcontrolv1.SubjectKindUser, User: &flowcontrolv1.UserSubject{Name: "system:kube-proxy"}},
		"coredns": {Kind: flowcontrolv1.SubjectKindServiceAccount,
			ServiceAccount: &flowcontrolv1.ServiceAccountSubject{Namespace: "kube-system", Name: "coredns"}},
		"flannel": {Kind: flowcontrolv1.SubjectKindUser, User: &flowcontrolv1.UserSubject{Name: "system:k3s-controller"}},
	}
	for i, fs := range schemas {
		s := subjects[i]
		if got := ClientOf(fs.Name); got != s.Client {
			t.Errorf("schema %s: its requests would be filed under %q, want %q", fs.Name, got, s.Client)
		}
		// After the schemas that must keep their requests (leader election,
		// nodes), before those it takes from (kube-system service accounts).
		if p := fs.Spec.MatchingPrecedence; p <= 500 || p >= 900 {
			t.Errorf("schema %s: precedence %d, want between 500 and 900", fs.Name, p)
		}
		if fs.Spec.PriorityLevelConfiguration.Name != s.PriorityLevel {
			t.Errorf("schema %s: priority level %q, want the default's %q", fs.Name, fs.Spec.PriorityLevelConfiguration.Name, s.PriorityLevel)
		}
		rules := fs.Spec.Rules
		if len(rules) != 1 || len(rules[0].Subjects) != 1 || len(rules[0].ResourceRules) != 1 || len(rules[0].NonResourceRules) != 1 {
			t.Fatalf("schema %s: rules %+v, want one rule for one subject over every request", fs.Name, rules)
		}
		got, want := rules[0].Subjects[0], wantSubjects[s.Client]
		if got.Kind != want.Kind || (want.User != nil && (got.User == nil || *got.User != *want.User)) ||
			(want.ServiceAccount != nil && (got.ServiceAccount == nil || *got.ServiceAccount != *want.ServiceAccount)) {
			t.Errorf("schema %s: subject %+v, want %+v", fs.Name, got, want)
		}
		if !rules[0].ResourceRules[0].ClusterScope {
			t.Errorf("schema %s: cluster-scoped requests not matched", fs.Name)
		}
	}
}
