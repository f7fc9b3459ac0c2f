// Package upstream runs the upstream Kubernetes conformance suite: the
// e2e.test binary built from k8s.io/kubernetes/test/e2e, driven by the
// ginkgo CLI, against any cluster given by a kubeconfig, and turns its JUnit
// results into distrobench's canonical result tree (internal/result).
//
// Modes follow sonobuoy's e2e plugin: "certified" runs every [Conformance]
// spec (the parallel-safe ones on several processes, then the [Serial] ones
// on one), "quick" runs the one spec sonobuoy's quick mode runs, and "core"
// runs a fixed subset touching every SIG (see coreSpecs).
package upstream
