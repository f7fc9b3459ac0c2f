// Package api is distrobench's first Ginkgo suite: the Kubernetes API
// behaviour a distribution must keep on every datastore (SQLite, etcd,
// MySQL, PostgreSQL): discovery, CRUD, watch, pagination, selectors,
// namespace finalization, CRDs, RBAC, garbage collection, Leases and the
// Deployment -> ReplicaSet -> Pod chain.
//
// Importing the package registers the specs (for the in-process runner in
// internal/conformance); api_suite_test.go runs them with `go test ./suites/api
// -args --kubeconfig=PATH`. Specs only take a kubeconfig and assert on API
// objects, never on running containers: the cluster may have no nodes.
package api

import "github.com/distrobench/distrobench/suites/framework"

// SuiteName is the name the suite registers under.
const SuiteName = "api"

// describe registers a top-level container of this suite.
func describe(text string, args ...any) bool {
	return framework.Describe(SuiteName, text, args...)
}
