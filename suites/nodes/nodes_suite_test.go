package nodes

import (
	"flag"
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/distrobench/distrobench/suites/framework"
)

func init() {
	framework.RegisterFlags(flag.CommandLine)
}

// TestNodes runs the suite against the cluster of --kubeconfig:
//
//	go test ./suites/nodes -args --kubeconfig=PATH [--ginkgo.label-filter='!disruptive'] [--ginkgo.v]
//
// Run from `go test` there is no NodeController (nothing here can stop and
// start agents), so unless a label filter is given the disruptive specs are
// deselected; `distrobench run` runs them (the e2e tests check that).
// `--ginkgo.dry-run -ginkgo.v` lists the specs without a cluster.
func TestNodes(t *testing.T) {
	if testing.Short() {
		t.Skip("integration: needs a running cluster with nodes; run go test ./suites/nodes -args --kubeconfig=PATH")
	}
	suiteConfig, reporterConfig := GinkgoConfiguration()
	if suiteConfig.LabelFilter == "" {
		suiteConfig.LabelFilter = "!" + framework.LabelDisruptive
	}
	if !suiteConfig.DryRun {
		if err := framework.TestContext.Validate(); err != nil {
			t.Fatalf("the nodes suite needs a cluster: %v", err)
		}
	}
	RegisterFailHandler(Fail)
	RunSpecs(t, "distrobench nodes suite", suiteConfig, reporterConfig)
}
