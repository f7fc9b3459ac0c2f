package api

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

// TestAPI runs the suite against the cluster of --kubeconfig:
//
//	go test ./suites/api -args --kubeconfig=PATH [--ginkgo.label-filter='!slow'] [--ginkgo.v]
func TestAPI(t *testing.T) {
	if testing.Short() {
		t.Skip("integration: needs a running cluster; run go test ./suites/api -args --kubeconfig=PATH")
	}
	if err := framework.TestContext.Validate(); err != nil {
		t.Fatalf("the api suite needs a cluster: %v", err)
	}
	RegisterFailHandler(Fail)
	RunSpecs(t, "distrobench api suite")
}
