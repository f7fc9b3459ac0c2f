package measure

import (
	"context"
	"errors"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// listDescription is how every timed list of a collection is made.
const listDescription = "latency of one unpaginated list of the whole namespace holding `objects` ConfigMaps, one list at a time"

// collection is a namespace of its own holding numbered ConfigMaps of one
// payload: what Growth fills, lists and deletes.
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
// list: no limit (unpaginated) and resourceVersion unset.
func (c *collection) list(ctx context.Context, _ int) error {
	l, err := c.client.CoreV1().ConfigMaps(c.ns).List(ctx, metav1.ListOptions{})
	if err == nil && len(l.Items) != c.stored {
		err = fmt.Errorf("listed %d objects, %d are stored (a full list must return every object of the namespace: is something else writing there?)", len(l.Items), c.stored)
	}
	return err
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
