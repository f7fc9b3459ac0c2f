package measure

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// QuiesceAttribute names the attribute that records, on every figure taken
// under load, how the cluster was brought to rest before the load began.
const QuiesceAttribute = "load.quiesce"

// QuiesceOptions configure Quiesce.
type QuiesceOptions struct {
	// Client lists the namespaces; nil: namespaces are not waited for.
	Client kubernetes.Interface
	// Units are waited for to idle by Settle; none: only namespaces.
	Units  []Unit
	Settle Settle
	// Progress receives short status lines; optional.
	Progress func(string)
}

// Quiesce waits until what ran before a load benchmark has finished, so
// the load figures do not share the cluster with it: first until no
// namespace is Terminating (the suites delete theirs on the way out, and
// the namespace controller, the garbage collector and the kubelets then
// work for a minute or more), then until every unit is idle by o.Settle.
// Neither wait fails the run when it runs out (o.Settle.Max each): the
// returned text says what was reached, for QuiesceAttribute. Errors are a
// cancelled context or a cluster that cannot be read.
func Quiesce(ctx context.Context, o QuiesceOptions) (string, error) {
	var parts []string
	if o.Client != nil {
		s, err := waitNamespacesGone(ctx, o.Client, o.Settle, o.Progress)
		if err != nil {
			return "", err
		}
		parts = append(parts, s)
	}
	if len(o.Units) > 0 {
		sm, err := newSampler(o.Units)
		if err != nil {
			return "", err
		}
		_, s, err := settle(ctx, sm, o.Settle, o.Progress)
		if err != nil {
			return "", fmt.Errorf("waiting for the cluster to idle before the load: %w", err)
		}
		parts = append(parts, "nodes "+s)
	}
	if len(parts) == 0 {
		return "not waited for", nil
	}
	return strings.Join(parts, "; "), nil
}

// waitNamespacesGone polls every s.Interval until no namespace is
// Terminating, for at most s.Max.
func waitNamespacesGone(ctx context.Context, cs kubernetes.Interface, s Settle, progress func(string)) (string, error) {
	start := time.Now()
	for {
		terminating, err := terminatingNamespaces(ctx, cs)
		if err != nil {
			return "", err
		}
		took := time.Since(start).Round(time.Second)
		if len(terminating) == 0 {
			return fmt.Sprintf("no namespace terminating after %s", took), nil
		}
		if took >= s.Max {
			return fmt.Sprintf("NOT quiet: %d namespaces still terminating after %s (%s)",
				len(terminating), took, strings.Join(firstN(terminating, 3), ", ")), nil
		}
		if progress != nil {
			progress(fmt.Sprintf("waiting for %d terminating namespaces to go (%s) after %s",
				len(terminating), strings.Join(firstN(terminating, 3), ", "), took))
		}
		if err := sleep(ctx, s.Interval); err != nil {
			return "", fmt.Errorf("interrupted while waiting for terminating namespaces: %w", err)
		}
	}
}

// terminatingNamespaces lists the names of the namespaces being deleted.
func terminatingNamespaces(ctx context.Context, cs kubernetes.Interface) ([]string, error) {
	list, err := cs.CoreV1().Namespaces().List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("list namespaces (to wait for the terminating ones before the load): %w", err)
	}
	var out []string
	for _, ns := range list.Items {
		if ns.Status.Phase == corev1.NamespaceTerminating || ns.DeletionTimestamp != nil {
			out = append(out, ns.Name)
		}
	}
	slices.Sort(out)
	return out, nil
}

// firstN is at most n of names, with "..." when some were left off.
func firstN(names []string, n int) []string {
	if len(names) <= n {
		return names
	}
	return append(slices.Clone(names[:n]), "...")
}
