package api

import (
	"context"
	"fmt"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"golang.org/x/sync/errgroup"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/distrobench/distrobench/suites/framework"
)

const (
	// paginationObjects is how many ConfigMaps the pagination specs list.
	paginationObjects = 2000
	// pageLimit is the page size: 20 pages of 100.
	pageLimit = 100
	// createConcurrency bounds the parallel creates.
	createConcurrency = 16
)

var _ = describe("list pagination", Ordered, Label(framework.LabelAPI, framework.LabelDatastore, framework.LabelSlow), func() {
	var (
		ns   string
		want map[string]bool
	)

	BeforeAll(func(ctx context.Context) {
		ns = framework.NewNamespace(ctx, "paging").Name
		want = make(map[string]bool, paginationObjects)
		names := make([]string, paginationObjects)
		for i := range names {
			names[i] = fmt.Sprintf("p-%05d", i)
			want[names[i]] = true
		}
		Expect(createConfigMaps(ctx, ns, names, createConcurrency)).To(Succeed())
	}, NodeTimeout(framework.Timeout(4*time.Minute)))

	It(fmt.Sprintf("returns each of %d objects exactly once in pages of at most %d", paginationObjects, pageLimit), func(ctx SpecContext) {
		c := framework.ClientSet().CoreV1().ConfigMaps(ns)
		seen := map[string]int{}
		opts := metav1.ListOptions{Limit: pageLimit}
		for page := 0; ; page++ {
			Expect(page).To(BeNumerically("<=", paginationObjects/pageLimit+1), "more pages than objects allow: the continue token loops")
			list, err := c.List(ctx, opts)
			Expect(err).NotTo(HaveOccurred(), "page %d", page)
			Expect(len(list.Items)).To(BeNumerically("<=", pageLimit), "page %d is larger than the limit", page)
			for _, cm := range list.Items {
				if cm.Name == rootCAConfigMap {
					continue
				}
				if p, dup := seen[cm.Name]; dup {
					Fail(fmt.Sprintf("%s is on page %d and again on page %d", cm.Name, p, page))
				}
				seen[cm.Name] = page
			}
			if list.Continue == "" {
				break
			}
			Expect(list.Items).NotTo(BeEmpty(), "page %d is empty but has a continue token", page)
			opts.Continue = list.Continue
		}
		var missing []string
		for n := range want {
			if _, ok := seen[n]; !ok {
				missing = append(missing, n)
			}
		}
		Expect(missing).To(BeEmpty(), "objects never listed")
		Expect(seen).To(HaveLen(len(want)), "objects listed that were never created")
	}, SpecTimeout(framework.Timeout(2*time.Minute)))

	It("serves every page from the snapshot of the first one", func(ctx SpecContext) {
		c := framework.ClientSet().CoreV1().ConfigMaps(ns)
		first, err := c.List(ctx, metav1.ListOptions{Limit: pageLimit})
		Expect(err).NotTo(HaveOccurred())
		Expect(first.Continue).NotTo(BeEmpty())

		// Objects created after the first page sort after every existing one,
		// so only a consistent snapshot keeps them out of the later pages.
		late := make([]string, 20)
		for i := range late {
			late[i] = fmt.Sprintf("z-late-%02d", i)
		}
		Expect(createConfigMaps(ctx, ns, late, 4)).To(Succeed())
		// An object changed after the first page is listed as it was.
		changed, err := c.Get(ctx, "p-01999", metav1.GetOptions{})
		Expect(err).NotTo(HaveOccurred())
		changed.Data = map[string]string{"changed": "true"}
		_, err = c.Update(ctx, changed, metav1.UpdateOptions{})
		Expect(err).NotTo(HaveOccurred())

		count := len(withoutRootCA(names(first.Items)))
		opts := metav1.ListOptions{Limit: pageLimit, Continue: first.Continue}
		for page := 1; opts.Continue != ""; page++ {
			Expect(page).To(BeNumerically("<=", paginationObjects/pageLimit+1))
			list, err := c.List(ctx, opts)
			Expect(err).NotTo(HaveOccurred(), "page %d", page)
			Expect(list.ResourceVersion).To(Equal(first.ResourceVersion), "page %d is not served from the first page's snapshot", page)
			for _, cm := range list.Items {
				if cm.Name == rootCAConfigMap {
					continue
				}
				count++
				Expect(want).To(HaveKey(cm.Name), "page %d lists %s, created after the first page", page, cm.Name)
				if cm.Name == changed.Name {
					Expect(cm.Data).NotTo(HaveKey("changed"), "page %d lists %s as changed after the first page", page, cm.Name)
				}
			}
			opts.Continue = list.Continue
		}
		Expect(count).To(Equal(paginationObjects))

		// A fresh list sees the new objects.
		all, err := c.List(ctx, metav1.ListOptions{})
		Expect(err).NotTo(HaveOccurred())
		Expect(withoutRootCA(names(all.Items))).To(HaveLen(paginationObjects + len(late)))
	}, SpecTimeout(framework.Timeout(2*time.Minute)))
})

// createConfigMaps creates one small ConfigMap per name, at most
// concurrency at a time.
func createConfigMaps(ctx context.Context, ns string, names []string, concurrency int) error {
	c := framework.ClientSet().CoreV1().ConfigMaps(ns)
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(concurrency)
	for _, n := range names {
		g.Go(func() error {
			_, err := c.Create(ctx, &corev1.ConfigMap{
				ObjectMeta: metav1.ObjectMeta{Name: n},
				Data:       map[string]string{"name": n},
			}, metav1.CreateOptions{})
			if err != nil {
				return fmt.Errorf("create configmap %s/%s: %w", ns, n, err)
			}
			return nil
		})
	}
	return g.Wait()
}
