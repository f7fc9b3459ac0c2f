package upstream

import (
	"fmt"
	"regexp"
	"runtime"
	"strings"
)

// Mode selects which [Conformance] specs a run executes.
type Mode string

// Modes. They follow sonobuoy v0.57.3's e2e modes (cmd/sonobuoy/app/modes.go)
// where sonobuoy has one: quick is sonobuoy's quick, certified is sonobuoy's
// certified-conformance (focus `\[Conformance\]`, no skip: the [Disruptive]
// specs run too), split into a parallel and a serial pass the way the
// conformance image's go-runner runs E2E_PARALLEL (which skips `\[Serial\]`).
const (
	// ModeQuick runs the one spec sonobuoy's quick mode runs (its E2E_FOCUS
	// "Pods should be submitted and removed"): does a pod start and go?
	ModeQuick Mode = "quick"
	// ModeCore runs CoreSpecs: a fixed subset that touches every SIG and
	// fits a CI job (a few minutes).
	ModeCore Mode = "core"
	// ModeCertified runs every [Conformance] spec, as for a CNCF
	// certification: the parallel-safe ones on Procs processes, then the
	// [Serial] ones (the two [Disruptive] among them included) on one.
	ModeCertified Mode = "certified"
)

// Modes lists the valid modes.
func Modes() []Mode { return []Mode{ModeQuick, ModeCore, ModeCertified} }

// ParseMode validates a mode name.
func ParseMode(s string) (Mode, error) {
	for _, m := range Modes() {
		if string(m) == s {
			return m, nil
		}
	}
	return "", fmt.Errorf("unknown upstream conformance mode %q (valid: quick, core, certified)", s)
}

// quickFocus is sonobuoy's quick-mode E2E_FOCUS, verbatim.
const quickFocus = "Pods should be submitted and removed"

// QuickSpec is the full name of the one spec quickFocus selects at v1.37.
const QuickSpec = "[sig-node] Pods should be submitted and removed [Conformance] [NodeConformance]"

// Ginkgo label filters. In v1.37 every [Conformance], [Serial] and
// [Disruptive] tag in a spec's text is also a Ginkgo label (the framework's
// ConformanceIt / WithSerial add both), so label filters select exactly what
// sonobuoy's text focus `\[Conformance\]` and go-runner's skip `\[Serial\]` do.
const (
	labelConformance = "Conformance"
	labelParallel    = "Conformance && !Serial"
	labelSerial      = "Conformance && Serial"
)

// CoreSpecs is the core mode's fixed subset: 34 [Conformance] specs, at least
// one per SIG that has conformance specs, picked to be quick (seconds to about
// a minute each), deterministic (no timing races, no [Slow] spec, none of
// sonobuoy's conformance-lite skips) and to need only the images every node
// has (agnhost, busybox, pause; DNS also the dns test image). Names are exact
// full texts at v1.37.2; TestCoreSpecsExist checks them against the built
// e2e.test. One [Serial] spec keeps the serial pass exercised.
var CoreSpecs = []string{
	// sig-api-machinery: discovery, CRDs, quota controller, admission
	// webhooks (the API server must reach a pod through a service).
	"[sig-api-machinery] server version should find the server version [Conformance]",
	"[sig-api-machinery] Discovery should validate PreferredVersion for each APIGroup [Conformance]",
	"[sig-api-machinery] CustomResourceDefinition resources [Privileged:ClusterAdmin] Simple CustomResourceDefinition creating/deleting custom resource definition objects works [Conformance]",
	"[sig-api-machinery] ResourceQuota should create a ResourceQuota and capture the life of a configMap. [Conformance]",
	"[sig-api-machinery] AdmissionWebhook [Privileged:ClusterAdmin] should mutate configmap [Conformance]",
	// sig-apps: the deployment, replicaset and job controllers.
	"[sig-apps] Deployment RollingUpdateDeployment should delete old pods and create new ones [Conformance]",
	"[sig-apps] ReplicaSet should serve a basic image on each replica with a public image [Conformance]",
	"[sig-apps] Job should manage the lifecycle of a job [Conformance]",
	// sig-architecture: its only conformance spec (fails on a one-node cluster).
	"[sig-architecture] Conformance Tests should have at least two untainted nodes [Conformance]",
	// sig-auth: service account tokens, root CA publisher, authorization.
	"[sig-auth] ServiceAccounts should mount an API token into pods [Conformance]",
	"[sig-auth] ServiceAccounts should guarantee kube-root-ca.crt exist in any namespace [Conformance]",
	"[sig-auth] SubjectReview should support SubjectReview API operations [Conformance]",
	// sig-cli: kubectl against the cluster (--kubectl-path).
	"[sig-cli] Kubectl client Kubectl version should check is all data is printed [Conformance]",
	"[sig-cli] Kubectl client Kubectl api-versions should check if v1 is in available api versions [Conformance]",
	"[sig-cli] Kubectl client Kubectl run pod should create a pod from an image when restart is Never [Conformance]",
	// sig-instrumentation: core/v1 and events.k8s.io events.
	"[sig-instrumentation] Events should manage the lifecycle of an event [Conformance]",
	"[sig-instrumentation] Events API should ensure that an event can be fetched, patched, deleted, and listed [Conformance]",
	// sig-network: endpoints, pod networking, cluster DNS, kube-proxy.
	"[sig-network] Services should serve a basic endpoint from pods [Conformance]",
	"[sig-network] Networking Granular Checks: Pods should function for intra-pod communication: http [Conformance] [NodeConformance]",
	"[sig-network] DNS should provide DNS for the cluster [Conformance]",
	"[sig-network] Services should be able to create a functioning NodePort service [Conformance]",
	"[sig-network] EndpointSlice should support creating EndpointSlice API operations [Conformance]",
	// sig-node: pod lifecycle, logs and exec through the kubelet, hooks,
	// downward API env, security context.
	"[sig-node] Pods should be submitted and removed [Conformance] [NodeConformance]",
	"[sig-node] Pods should support retrieving logs from the container over websockets [Conformance] [NodeConformance]",
	"[sig-node] Pods should support remote command execution over websockets [Conformance] [NodeConformance]",
	"[sig-node] Container Lifecycle Hook when create a pod with lifecycle hook should execute poststart exec hook properly [Conformance] [NodeConformance]",
	"[sig-node] Downward API should provide pod name, namespace and IP address as env vars [Conformance] [NodeConformance]",
	"[sig-node] Security Context When creating a container with runAsUser should run the container with uid 65534 [LinuxOnly] [Conformance] [NodeConformance]",
	// sig-scheduling: admission defaults and the scheduler's node selector
	// (the one [Serial] spec).
	"[sig-scheduling] LimitRange should create a LimitRange with defaults and ensure pod has those defaults applied. [Conformance]",
	"[sig-scheduling] SchedulerPredicates validates that NodeSelector is respected if matching [Conformance] [Serial]",
	// sig-storage: configmap, secret, emptyDir (tmpfs) and projected volumes.
	"[sig-storage] ConfigMap should be consumable from pods in volume [Conformance] [NodeConformance]",
	"[sig-storage] Secrets should be consumable from pods in volume [Conformance] [NodeConformance]",
	"[sig-storage] EmptyDir volumes should support (root,0644,tmpfs) [LinuxOnly] [Conformance] [NodeConformance]",
	"[sig-storage] Projected downwardAPI should provide podname only [Conformance] [NodeConformance]",
}

// DefaultProcs is the number of parallel e2e.test processes when
// Options.Procs is 0: 2 x NumCPU, at least 4, at most 16.
//
// Why more processes than cores: a conformance spec spends nearly all its
// time waiting (for pods to start, controllers to converge, poll intervals),
// not computing; each e2e.test process needs ~100-150 MB and little CPU. On
// a 2-core box, ginkgo's own -p default (NumCPU, i.e. 2) leaves the cores
// idle most of the time; 4 keeps them busy. Why not many more: the cluster
// under test usually shares the machine, and an API server and kubelet
// starved of CPU turn into spec timeouts (flakes), which cost far more than
// they save. Upstream CI runs 25 on large machines; 16 caps big boxes where
// the cluster is likely elsewhere but still small.
func DefaultProcs() int {
	n := 2 * runtime.NumCPU()
	if n < 4 {
		n = 4
	}
	if n > 16 {
		n = 16
	}
	return n
}

// pass is one ginkgo invocation: the parallel-safe specs on several
// processes, or the [Serial] ones on one.
type pass struct {
	Name        string // "parallel", "serial", "quick"
	Procs       int
	LabelFilter string
	Focus       []string // ORed regexps
	Skip        []string // ORed regexps
	// Wanted is the explicit spec list of the pass (core, rerun), or nil
	// when the filters alone select.
	Wanted []string
}

// selection is what a run executes and how it describes what it leaves out.
type selection struct {
	passes []pass
	// notSelected is the reason given to the [Conformance] specs the run
	// does not execute (listed as not selected).
	notSelected string
}

// plan turns the options into passes. Precedence: an explicit Specs list
// (rerun), then a Focus regexp (certified's passes restricted to matching
// specs), then the mode. Skip applies to every pass.
func plan(o *Options) (selection, error) {
	var skip []string
	if o.Skip != "" {
		if _, err := regexp.Compile(o.Skip); err != nil {
			return selection{}, fmt.Errorf("--skip %q is not a valid regular expression: %w", o.Skip, err)
		}
		skip = []string{o.Skip}
	}
	procs := o.Procs
	if procs <= 0 {
		procs = DefaultProcs()
	}
	switch {
	case len(o.Specs) > 0:
		sel := splitExplicit(o.Specs, procs, skip)
		sel.notSelected = o.NotSelectedReason
		if sel.notSelected == "" {
			sel.notSelected = fmt.Sprintf("not selected: this run was given an explicit list of %d specs", len(o.Specs))
		}
		return sel, nil
	case o.Focus != "":
		if _, err := regexp.Compile(o.Focus); err != nil {
			return selection{}, fmt.Errorf("--focus %q is not a valid regular expression: %w", o.Focus, err)
		}
		return selection{
			passes: []pass{
				{Name: "parallel", Procs: procs, LabelFilter: labelParallel, Focus: []string{o.Focus}, Skip: skip},
				{Name: "serial", Procs: 1, LabelFilter: labelSerial, Focus: []string{o.Focus}, Skip: skip},
			},
			notSelected: fmt.Sprintf("not selected: does not match --focus %q", o.Focus),
		}, nil
	}
	switch o.Mode {
	case ModeQuick:
		return selection{
			passes:      []pass{{Name: "quick", Procs: 1, LabelFilter: labelConformance, Focus: []string{quickFocus}, Skip: skip}},
			notSelected: "not selected: mode quick runs only sonobuoy's quick spec (" + quickFocus + ")",
		}, nil
	case ModeCore:
		sel := splitExplicit(CoreSpecs, procs, skip)
		sel.notSelected = fmt.Sprintf("not selected: mode core runs a fixed subset of %d specs (upstream.CoreSpecs); mode certified runs all", len(CoreSpecs))
		return sel, nil
	case ModeCertified:
		return selection{
			passes: []pass{
				{Name: "parallel", Procs: procs, LabelFilter: labelParallel, Skip: skip},
				{Name: "serial", Procs: 1, LabelFilter: labelSerial, Skip: skip},
			},
			notSelected: "not selected by --skip",
		}, nil
	}
	return selection{}, fmt.Errorf("unknown upstream conformance mode %q (valid: quick, core, certified)", o.Mode)
}

// splitExplicit makes up to two passes for a list of exact spec names: the
// [Serial] ones (by their text tag, which is also their label) on one
// process, the rest on procs.
func splitExplicit(names []string, procs int, skip []string) selection {
	var par, ser []string
	seen := map[string]bool{}
	for _, n := range names {
		n = strings.TrimSpace(n)
		if n == "" || seen[n] {
			continue
		}
		seen[n] = true
		if isSerial(n) {
			ser = append(ser, n)
		} else {
			par = append(par, n)
		}
	}
	var sel selection
	if len(par) > 0 {
		p := procs
		if len(par) < p {
			p = len(par)
		}
		sel.passes = append(sel.passes, pass{Name: "parallel", Procs: p, Focus: exactFocus(par), Skip: skip, Wanted: par})
	}
	if len(ser) > 0 {
		sel.passes = append(sel.passes, pass{Name: "serial", Procs: 1, Focus: exactFocus(ser), Skip: skip, Wanted: ser})
	}
	return sel
}

func isSerial(name string) bool { return strings.Contains(name, "[Serial]") }

// exactFocus turns spec names into one focus regexp each (ginkgo ORs
// repeated --focus flags, and one short argument per spec stays far below
// the kernel's 128 KiB limit for a single argument). Ginkgo matches focus
// against "<suite description> <spec full text>", so a name is anchored by
// the space before it and the end of the text: " <quoted name>$".
func exactFocus(names []string) []string {
	out := make([]string, 0, len(names))
	for _, n := range names {
		out = append(out, " "+regexp.QuoteMeta(n)+"$")
	}
	return out
}

// ginkgoFilterArgs are a pass's filters as flags; prefix is "--" for the
// ginkgo CLI and "--ginkgo." for e2e.test itself (dry runs).
func (p pass) filterArgs(prefix string) []string {
	var args []string
	if p.LabelFilter != "" {
		args = append(args, prefix+"label-filter="+p.LabelFilter)
	}
	for _, f := range p.Focus {
		args = append(args, prefix+"focus="+f)
	}
	for _, s := range p.Skip {
		args = append(args, prefix+"skip="+s)
	}
	return args
}
