// Package framework holds the small helpers every distrobench Ginkgo suite
// shares: the run configuration (TestContext), API clients built from a
// kubeconfig, throwaway namespaces, timeouts scaled for slow (emulated)
// hosts, spec labels, and suite registration.
//
// Suites take ONLY a kubeconfig, never a deployer: whoever started the
// cluster (distrobench, a user, CI) hands its kubeconfig over, either by
// setting TestContext before the specs run (the in-process runner in
// internal/conformance) or through the flags RegisterFlags adds to a
// `go test` entry point (`go test ./suites/api -args --kubeconfig=PATH`).
package framework

import (
	"flag"
	"fmt"
	"os"
	"sort"
	"sync"
	"time"

	"github.com/onsi/ginkgo/v2"
)

// Labels every suite uses to describe its specs. Select specs with Ginkgo
// label filters over them, e.g. `--label-filter='api && !slow'`.
const (
	// LabelAPI marks specs of the Kubernetes API a distribution must serve.
	LabelAPI = "api"
	// LabelDatastore marks specs that stress the datastore behind the API
	// server (watch history, pagination, consistency): run them on every
	// datastore (sqlite, etcd, mysql, postgres).
	LabelDatastore = "datastore"
	// LabelSlow marks specs that take tens of seconds or more.
	LabelSlow = "slow"
	// LabelControllers marks specs that need kube-controller-manager
	// (garbage collector, namespace, deployment and replicaset controllers).
	LabelControllers = "controllers"
	// LabelRBAC marks authorization specs.
	LabelRBAC = "rbac"
	// LabelCRD marks CustomResourceDefinition specs (apiextensions).
	LabelCRD = "crd"
	// LabelWatch marks watch specs.
	LabelWatch = "watch"

	// SuiteLabelKey is the key of the Ginkgo label set naming the suite of
	// a spec: every spec registered with Describe carries "suite:<name>",
	// so `--label-filter='suite: containsAny api'` selects one suite.
	SuiteLabelKey = "suite"
)

// Context is the configuration of a suite run.
type Context struct {
	// Kubeconfig is the path of the kubeconfig of the cluster under test.
	Kubeconfig string
	// NamespacePrefix starts the name of every namespace the specs create,
	// so leftovers are easy to find and delete.
	NamespacePrefix string
	// TimeoutMultiplier scales every timeout of the specs (Timeout): use
	// about 10 for arm64 emulated with qemu-user, which is 9-15x slower.
	TimeoutMultiplier float64
	// QPS and Burst of the API clients.
	QPS   float32
	Burst int
}

// TestContext is the configuration of the current run. The runner sets it
// before the specs run; specs only read it.
var TestContext = Context{
	NamespacePrefix:   "distrobench",
	TimeoutMultiplier: 1,
	QPS:               100,
	Burst:             200,
}

// RegisterFlags adds the flags of TestContext to fs, for `go test` entry
// points (`go test ./suites/api -args --kubeconfig=PATH`). The kubeconfig
// defaults to $KUBECONFIG. The in-process runner does not use flags: it
// sets TestContext directly, so nothing here touches os.Args.
func RegisterFlags(fs *flag.FlagSet) {
	fs.StringVar(&TestContext.Kubeconfig, "kubeconfig", os.Getenv("KUBECONFIG"),
		"path of the kubeconfig of the cluster under test (default $KUBECONFIG)")
	fs.StringVar(&TestContext.NamespacePrefix, "namespace-prefix", TestContext.NamespacePrefix,
		"prefix of the namespaces the specs create")
	fs.Float64Var(&TestContext.TimeoutMultiplier, "timeout-multiplier", TestContext.TimeoutMultiplier,
		"multiply every spec timeout by this factor (about 10 for emulated arm64)")
}

// Validate reports a configuration the specs cannot run with.
func (c Context) Validate() error {
	if c.Kubeconfig == "" {
		return fmt.Errorf("no kubeconfig given: pass --kubeconfig=PATH (or set KUBECONFIG) to point the suites at a cluster")
	}
	if _, err := os.Stat(c.Kubeconfig); err != nil {
		return fmt.Errorf("kubeconfig %s: %w (is the cluster up? `distrobench up` writes it)", c.Kubeconfig, err)
	}
	if c.TimeoutMultiplier <= 0 {
		return fmt.Errorf("timeout multiplier %v must be > 0", c.TimeoutMultiplier)
	}
	return nil
}

// Timeout scales d by TestContext.TimeoutMultiplier. Use it for every
// Eventually timeout and SpecTimeout, so slow hosts do not fail specs.
func Timeout(d time.Duration) time.Duration {
	m := TestContext.TimeoutMultiplier
	if m <= 0 {
		m = 1
	}
	return time.Duration(float64(d) * m)
}

var (
	suitesMu sync.Mutex
	suites   = map[string]bool{}
)

// Describe registers a top-level container of the named suite. It is
// ginkgo.Describe plus the label "suite:<suite>" on every spec inside, which
// the in-process runner uses to group results and select suites. Call it
// from a suite package's non-test files (`var _ = Describe(...)`), so that
// importing the package registers its specs.
func Describe(suite, text string, args ...any) bool {
	suitesMu.Lock()
	suites[suite] = true
	suitesMu.Unlock()
	return ginkgo.Describe(text, append([]any{ginkgo.Label(SuiteLabel(suite))}, args...)...)
}

// SuiteLabel is the label Describe puts on the specs of a suite.
func SuiteLabel(suite string) string { return SuiteLabelKey + ":" + suite }

// Suites returns the names of the registered suites, sorted.
func Suites() []string {
	suitesMu.Lock()
	defer suitesMu.Unlock()
	out := make([]string, 0, len(suites))
	for s := range suites {
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}
