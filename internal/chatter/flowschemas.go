package chatter

import (
	"strings"

	flowcontrolv1 "k8s.io/api/flowcontrol/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// FlowSchemaPrefix starts the name of a flow schema made by
// ClientFlowSchemas; ClientOf names its client by the rest of the name.
const FlowSchemaPrefix = "chatter-"

// clientSchemaPrecedence places the schemas ClientFlowSchemas makes after
// exempt (1), probes (2), system-leader-election (100) and the node
// schemas (400, 500), which keep their requests, and before
// kube-system-service-accounts (900), service-accounts (9000) and
// global-default (9900), from which they take their client's requests.
const clientSchemaPrecedence = 850

// ClientSubject is one client the default flow schemas do not tell apart
// (they file kube-proxy and a distribution's network agent under
// global-default, CoreDNS under kube-system-service-accounts).
type ClientSubject struct {
	// Client is the name its requests are reported under.
	Client string
	// User is the user name it authenticates as; or else
	User string
	// ServiceAccount is the namespace/name of the service account it runs as.
	ServiceAccount string
	// PriorityLevel is the priority level the default schemas give it, so
	// that adding the schema changes accounting only, not behaviour.
	PriorityLevel string
}

// StandardClients are clients every Kubernetes distribution runs; the
// network agent's user is the distribution's own (k3s's flannel runs as
// system:k3s-controller), so the caller adds it.
var StandardClients = []ClientSubject{
	{Client: "kube-proxy", User: "system:kube-proxy", PriorityLevel: "global-default"},
	{Client: "coredns", ServiceAccount: "kube-system/coredns", PriorityLevel: "workload-high"},
}

// ClientFlowSchemas makes one flow schema per subject, matching all of
// its requests at the priority level it had, so that
// apiserver_flowcontrol_dispatched_requests_total counts it apart. The
// caller creates them in the cluster before the first scrape (and deletes
// them after the last).
func ClientFlowSchemas(subjects []ClientSubject) []flowcontrolv1.FlowSchema {
	out := make([]flowcontrolv1.FlowSchema, 0, len(subjects))
	for _, s := range subjects {
		out = append(out, flowcontrolv1.FlowSchema{
			ObjectMeta: metav1.ObjectMeta{Name: FlowSchemaPrefix + s.Client},
			Spec: flowcontrolv1.FlowSchemaSpec{
				PriorityLevelConfiguration: flowcontrolv1.PriorityLevelConfigurationReference{Name: s.PriorityLevel},
				MatchingPrecedence:         clientSchemaPrecedence,
				DistinguisherMethod:        &flowcontrolv1.FlowDistinguisherMethod{Type: flowcontrolv1.FlowDistinguisherMethodByUserType},
				Rules:                      []flowcontrolv1.PolicyRulesWithSubjects{allRequestsOf(s.subject())},
			},
		})
	}
	return out
}

func (s ClientSubject) subject() flowcontrolv1.Subject {
	if ns, name, ok := strings.Cut(s.ServiceAccount, "/"); ok {
		return flowcontrolv1.Subject{
			Kind:           flowcontrolv1.SubjectKindServiceAccount,
			ServiceAccount: &flowcontrolv1.ServiceAccountSubject{Namespace: ns, Name: name},
		}
	}
	return flowcontrolv1.Subject{Kind: flowcontrolv1.SubjectKindUser, User: &flowcontrolv1.UserSubject{Name: s.User}}
}

// allRequestsOf matches every request of subject, as the default
// per-client schemas (kube-controller-manager, kube-scheduler) do.
func allRequestsOf(subject flowcontrolv1.Subject) flowcontrolv1.PolicyRulesWithSubjects {
	all := []string{"*"}
	return flowcontrolv1.PolicyRulesWithSubjects{
		Subjects: []flowcontrolv1.Subject{subject},
		ResourceRules: []flowcontrolv1.ResourcePolicyRule{{
			Verbs: all, APIGroups: all, Resources: all, Namespaces: all, ClusterScope: true,
		}},
		NonResourceRules: []flowcontrolv1.NonResourcePolicyRule{{Verbs: all, NonResourceURLs: all}},
	}
}
