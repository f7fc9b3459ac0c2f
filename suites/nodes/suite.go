// Package nodes is distrobench's suite for what a distribution's agent adds:
// real pods on real nodes. Pod lifecycle (Running, logs and exec through the
// API, restart policies, graceful termination and preStop hooks), the pod
// network across nodes, Service ClusterIPs and their DNS names, NodePorts,
// DaemonSets, and — with the harness's NodeController — nodes going NotReady
// and Ready again when their agent stops and starts, pods surviving an agent
// restart, and a join with a wrong token being refused.
//
// Every pod uses images the cluster imported at start (framework.BusyboxImage,
// AgnhostImage, PauseImage) with imagePullPolicy IfNotPresent: nothing is
// pulled. Specs that need two nodes fail (never skip) on a smaller cluster,
// saying how to get one; disruptive specs fail without a NodeController.
//
// Importing the package registers the specs (for the in-process runner in
// internal/conformance); nodes_suite_test.go runs them with
// `go test ./suites/nodes -args --kubeconfig=PATH`. The specs of this suite
// run after those of the others in the same run (SpecPriority), and the
// disruptive ones last.
package nodes

import (
	"github.com/onsi/ginkgo/v2"

	"github.com/distrobench/distrobench/suites/framework"
)

// SuiteName is the name the suite registers under.
const SuiteName = "nodes"

// Priorities order this suite after the API suite (default priority 0) when
// both run in one process, and the disruptive specs after everything else.
const (
	priorityNodes      = ginkgo.SpecPriority(-10)
	priorityDisruptive = ginkgo.SpecPriority(-20)
)

// describe registers a top-level container of this suite, labelled "nodes".
func describe(text string, args ...any) bool {
	return framework.Describe(SuiteName, text, append([]any{ginkgo.Label(framework.LabelNodes), priorityNodes}, args...)...)
}

// describeDisruptive registers a top-level container of disruptive specs:
// Serial, labelled "nodes" and "disruptive", run last.
func describeDisruptive(text string, args ...any) bool {
	return framework.Describe(SuiteName, text, append([]any{
		ginkgo.Label(framework.LabelNodes, framework.LabelDisruptive), ginkgo.Serial, priorityDisruptive,
	}, args...)...)
}
