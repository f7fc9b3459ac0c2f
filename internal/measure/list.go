package measure

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/distrobench/distrobench/internal/result"
)

// ListLatencyMetric names the latency of one full list of a ListSet.
const ListLatencyMetric = "api.list.latency"

// listDescription is how every timed list of a collection is made (Growth's
// and ListSet's figures alike).
const listDescription = "latency of one unpaginated list of the whole namespace holding `objects` ConfigMaps, one list at a time"

// ListSet is a namespace of N ConfigMaps made for timing lists of a large
// collection: made once, then listed in every round.
type ListSet struct {
	Namespace string // the namespace's generated name
	Objects   int    // ConfigMaps stored there: what every list must return
	c         *collection
}

// NewListSet creates a fresh namespace (GenerateName "distrobench-list-",
// label app.kubernetes.io/managed-by=distrobench) and fills it with objects
// ConfigMaps of size bytes each with concurrency workers (closed loop; the
// client must have no rate limiter). When the fill fails the namespace is
// deleted again. progress, optional, receives short status lines.
func NewListSet(ctx context.Context, client kubernetes.Interface, objects, size, concurrency int, progress func(string)) (*ListSet, error) {
	if client == nil || objects <= 0 || size < 0 || concurrency <= 0 {
		return nil, fmt.Errorf("list set: want a client, objects > 0, size >= 0 and concurrency > 0; got objects %d, size %d, concurrency %d", objects, size, concurrency)
	}
	c, err := newCollection(ctx, client, "list", size, concurrency)
	if err != nil {
		return nil, fmt.Errorf("list set: %w", err)
	}
	if progress != nil {
		progress(fmt.Sprintf("filling %s with %d ConfigMaps of %d bytes", c.ns, objects, size))
	}
	if err := c.fill(ctx, objects); err != nil {
		return nil, errors.Join(fmt.Errorf("list set: %w", err), c.deleteNamespace(context.WithoutCancel(ctx)))
	}
	return &ListSet{Namespace: c.ns, Objects: objects, c: c}, nil
}

// Time times n full lists of the namespace, one at a time (the way a
// controller's relist hits the server): each is one unpaginated list call
// with resourceVersion unset, the API's consistent ("most recent") read,
// which apiservers since 1.34 may answer from the watch cache after a
// quorum read of the current revision. It returns ListLatencyMetric in
// seconds with labels plus objects=N, and attributes saying how. A list
// that fails or does not return exactly Objects items is an error, and then
// no figure is returned.
func (s *ListSet) Time(ctx context.Context, n int, labels map[string]string) ([]result.Measurement, error) {
	if n <= 0 {
		return nil, fmt.Errorf("list set %s: want at least one list, got %d", s.Namespace, n)
	}
	b := s.c.timeLists(ctx, n)
	if err := errors.Join(ctx.Err(), b.firstErr); err != nil {
		return nil, fmt.Errorf("list set %s: %d of %d lists failed: %w", s.Namespace, b.failures(), n, err)
	}
	l := withLabels(labels, map[string]string{ObjectsLabel: strconv.Itoa(s.Objects)})
	m := described(result.NewMeasurement(ListLatencyMetric, "seconds", l, b.latencies), listDescription).
		WithAttribute("list.requests", fmt.Sprintf("%d, one at a time", n)).
		WithAttribute("list.objects", strconv.Itoa(s.Objects)).
		WithAttribute("list.object_size", fmt.Sprintf("%d bytes", len(s.c.payload))).
		WithAttribute("list.call", "unpaginated (no limit), resourceVersion unset (consistent read)")
	return []result.Measurement{m}, nil
}

// ListVia lists the namespace once through client (another path to the
// same apiserver, say through a proxy) and checks that every stored object
// came back.
func (s *ListSet) ListVia(ctx context.Context, client kubernetes.Interface) error {
	c := *s.c
	c.client = client
	return c.list(ctx, 0)
}

// Delete deletes the namespace (best effort: it does not wait for it to go
// and logs nothing) and returns the error.
func (s *ListSet) Delete(ctx context.Context) error {
	return s.c.deleteNamespace(ctx)
}

// collection is a namespace of its own holding numbered ConfigMaps of one
// payload: what Growth and ListSet fill, list and delete.
type collection struct {
	client kubernetes.Interface
	ns     string
	// prefix names the namespace ("distrobench-<prefix>-...") and the
	// objects ("<prefix>-000042").
	prefix  string
	payload string
	gen     generator // closed loop: the workers that fill and delete
	stored  int       // objects 0 .. stored-1 exist
}

// newCollection creates the namespace, empty.
func newCollection(ctx context.Context, client kubernetes.Interface, prefix string, size, concurrency int) (*collection, error) {
	ns, err := client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{
		ObjectMeta: metav1.ObjectMeta{GenerateName: "distrobench-" + prefix + "-",
			Labels: map[string]string{"app.kubernetes.io/managed-by": "distrobench"}}}, metav1.CreateOptions{})
	if err != nil {
		return nil, fmt.Errorf("create namespace: %w (is the cluster up, and may the client create namespaces?)", err)
	}
	return &collection{client: client, ns: ns.Name, prefix: prefix, payload: payload(size),
		gen: generator{load: LoadClosed, concurrency: concurrency, timeout: requestTimeout}}, nil
}

func (c *collection) objectName(i int) string { return fmt.Sprintf("%s-%06d", c.prefix, i) }

// fill creates objects until n are stored.
func (c *collection) fill(ctx context.Context, n int) error {
	from := c.stored
	b := c.gen.run(ctx, n-from, func(ctx context.Context, i int) error {
		_, err := c.client.CoreV1().ConfigMaps(c.ns).Create(ctx, &corev1.ConfigMap{
			ObjectMeta: metav1.ObjectMeta{Name: c.objectName(from + i)},
			Data:       map[string]string{"payload": c.payload},
		}, metav1.CreateOptions{})
		return err
	})
	if err := errors.Join(ctx.Err(), b.firstErr); err != nil {
		return fmt.Errorf("filling to %d objects (%d of %d creates failed): %w", n, b.failures(), n-from, err)
	}
	c.stored = n
	return nil
}

// timeLists times n lists of the whole namespace, one at a time; a list
// that fails or misses stored objects is a failed sample.
func (c *collection) timeLists(ctx context.Context, n int) batch {
	return generator{load: LoadClosed, concurrency: 1, timeout: requestTimeout}.run(ctx, n, c.list)
}

// list reads the whole namespace in one request, as the API benchmark's
// list: no limit (unpaginated) and resourceVersion unset. It must return
// every stored object; the namespace also holds what controllers put in
// every namespace (kube-root-ca.crt, from the root CA publisher), which is
// listed too and not counted.
func (c *collection) list(ctx context.Context, _ int) error {
	l, err := c.client.CoreV1().ConfigMaps(c.ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return err
	}
	ours := 0
	for _, cm := range l.Items {
		if strings.HasPrefix(cm.Name, c.prefix+"-") {
			ours++
		}
	}
	if ours != c.stored {
		return fmt.Errorf("listed %d of the %d objects stored (%d items in all): a full list must return every stored object", ours, c.stored, len(l.Items))
	}
	return nil
}

// empty deletes every stored object, one request per object, as the fill:
// the apiserver's delete-collection deletes one by one too, and would hide
// a failure in one answer.
func (c *collection) empty(ctx context.Context) error {
	b := c.gen.run(ctx, c.stored, func(ctx context.Context, i int) error {
		return c.client.CoreV1().ConfigMaps(c.ns).Delete(ctx, c.objectName(i), metav1.DeleteOptions{})
	})
	if err := errors.Join(ctx.Err(), b.firstErr); err != nil {
		return fmt.Errorf("delete the objects (%d of %d deletes failed): %w", b.failures(), c.stored, err)
	}
	c.stored = 0
	return nil
}

func (c *collection) deleteNamespace(ctx context.Context) error {
	if err := c.client.CoreV1().Namespaces().Delete(ctx, c.ns, metav1.DeleteOptions{}); err != nil {
		return fmt.Errorf("delete namespace %s: %w (delete it by hand)", c.ns, err)
	}
	return nil
}
