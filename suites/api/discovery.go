package api

import (
	"context"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/util/version"

	"github.com/distrobench/distrobench/suites/framework"
)

var _ = describe("discovery", Label(framework.LabelAPI), func() {
	It("serves a server version that parses", func(ctx context.Context) {
		info, err := framework.ClientSet().Discovery().ServerVersion()
		Expect(err).NotTo(HaveOccurred())
		v, err := version.ParseGeneric(info.GitVersion)
		Expect(err).NotTo(HaveOccurred(), "gitVersion %q", info.GitVersion)
		Expect(v.Major()).To(BeNumerically(">=", 1))
		Expect(info.Major).NotTo(BeEmpty())
		Expect(info.Minor).NotTo(BeEmpty())
		Expect(info.Platform).NotTo(BeEmpty())
	})

	// The groups every distribution must serve, with one resource each that
	// the rest of the suite relies on.
	groups := []struct {
		gv        string
		resources []string
	}{
		{"v1", []string{"configmaps", "secrets", "services", "namespaces", "serviceaccounts", "pods", "serviceaccounts/token"}},
		{"apps/v1", []string{"deployments", "replicasets", "deployments/scale"}},
		{"coordination.k8s.io/v1", []string{"leases"}},
		{"apiextensions.k8s.io/v1", []string{"customresourcedefinitions"}},
		{"rbac.authorization.k8s.io/v1", []string{"roles", "rolebindings", "clusterroles", "clusterrolebindings"}},
		{"authentication.k8s.io/v1", []string{"selfsubjectreviews"}},
	}
	for _, g := range groups {
		gv, resources := g.gv, g.resources
		It("serves "+gv, func(ctx context.Context) {
			list, err := framework.ClientSet().Discovery().ServerResourcesForGroupVersion(gv)
			Expect(err).NotTo(HaveOccurred(), "discovery of %s", gv)
			var served []string
			for _, r := range list.APIResources {
				served = append(served, r.Name)
			}
			Expect(served).To(ContainElements(resources), "resources of %s", gv)
		})
	}
})
