package reports

import (
	"fmt"
	"strings"
	"time"

	"github.com/distrobench/distrobench/internal/result"
)

// Fixtures: realistic, fully deterministic reports (fixed times, samples
// computed by integer arithmetic) shared by the golden and behaviour tests.

var t0 = time.Date(2026, 1, 15, 9, 30, 0, 0, time.UTC)

// spread returns n samples between base and base*(1+width), in a fixed
// scrambled order, plus the given outliers.
func spread(n int, base, width float64, outliers ...float64) []float64 {
	out := make([]float64, 0, n+len(outliers))
	for i := range n {
		out = append(out, base*(1+width*float64((i*37)%n)/float64(n)))
	}
	return append(out, outliers...)
}

func phase(start time.Time, name string, status result.Status, offset, dur float64, errText string) result.Phase {
	return result.Phase{
		Name: name, Status: status, DurationSeconds: dur, Error: errText,
		StartedAt: start.Add(time.Duration(offset * float64(time.Second))),
	}
}

// phases lays the five phases of a run end to end, with small gaps.
func phases(start time.Time, conformance result.Status, conformanceSeconds float64, conformanceErr string) []result.Phase {
	type p struct {
		name   string
		status result.Status
		dur    float64
		err    string
	}
	var out []result.Phase
	offset := 0.0
	for _, ph := range []p{
		{"build", result.StatusPassed, 92.4, ""},
		{"deploy", result.StatusPassed, 18.7, ""},
		{"conformance", conformance, conformanceSeconds, conformanceErr},
		{"bench", result.StatusPassed, 226.1, ""},
		{"teardown", result.StatusPassed, 6.2, ""},
	} {
		out = append(out, phase(start, ph.name, ph.status, offset, ph.dur, ph.err))
		offset += ph.dur + 0.2
	}
	return out
}

func spec(name string, status result.Status, dur float64, msg string, meta map[string]string) result.Item {
	return result.Item{Name: name, Status: status, DurationSeconds: dur, Message: msg, Meta: meta}
}

func passedFixture() *result.Report {
	r := baseFixture(t0, "20260115T093000Z-k3lite-sqlite", "sqlite")
	r.Status = result.StatusPassed
	r.Phases = phases(t0, result.StatusPassed, 1068.2, "")
	r.FinishedAt = t0.Add(1412 * time.Second)
	r.Tests.RollUp()
	return r
}

// baseFixture is a run before its outcome is known: the test tree is not
// rolled up yet.
func baseFixture(start time.Time, runID, datastore string) *result.Report {
	r := result.New(runID, start)
	r.Params = result.Params{
		Command: "distrobench run", Profile: "k3lite", ProfileFile: "profiles/k3lite.yaml",
		Datastore: datastore, Arch: "arm64", Binary: "_output/bin/linux-arm64/k3lite",
		LabelFilter: "!Slow && !Disruptive", Repeats: 5,
		Extra: map[string]string{"matrix": "edge-boards", "agents": "1", "cni": "flannel-vxlan"},
	}
	r.Host = result.Host{
		Hostname: "rpi5-lab-01", OS: "linux", Platform: "debian 12.11", Kernel: "6.6.51+rpt-rpi-2712",
		Arch: "arm64", CPUModel: "Cortex-A76", Cores: 4, MemoryBytes: 8 << 30,
	}
	r.Versions = result.Versions{Tool: "v0.1.0", Distribution: "k3lite v0.1.0+k8s1.37.2", Kubernetes: "v1.37.2", Datastore: "MariaDB 10.11.19", Go: "go1.26.8"}
	r.Tests = &result.Item{Name: "distrobench", Items: []result.Item{
		{Name: "datastore", Items: []result.Item{
			{Name: datastore, Items: []result.Item{
				spec("survives a server restart with all objects", result.StatusPassed, 21.4, "", map[string]string{"file": "suites/datastore/restart_test.go:41", "labels": "datastore"}),
				spec("compacts revisions", result.StatusPassed, 8.9, "", nil),
				spec("serves watch after 10k writes", result.StatusNotSelected, 0, "not selected by the label filter", map[string]string{"labels": "datastore, Slow"}),
			}},
		}},
		{Name: "footprint", Items: []result.Item{
			spec("idle server stays under the memory budget", result.StatusPassed, 64.0, "", nil),
			spec("binary is smaller than 140 MiB", result.StatusPassed, 0.012, "", nil),
		}},
		{Name: "conformance", Items: []result.Item{
			spec("[sig-api-machinery] Namespaces should ensure that all pods are removed when a namespace is deleted [Conformance]", result.StatusPassed, 31.2, "", nil),
			spec("[sig-network] Services should serve a basic endpoint from pods [Conformance]", result.StatusPassed, 12.6, "", nil),
			spec("[sig-node] Pods should be submitted and removed [NodeConformance] [Conformance]", result.StatusPassed, 9.8, "", nil),
			spec("[sig-apps] Deployment should run the lifecycle of a Deployment [Conformance]", result.StatusPassed, 6.1, "", nil),
			spec("[sig-apps] Daemon set should rollback without unnecessary restarts [Conformance]", result.StatusSkipped, 0, "skipped - Requires at least 2 nodes", nil),
		}},
	}}
	r.Measurements = []result.Measurement{
		result.NewMeasurement("footprint.idle.pss", "bytes", map[string]string{"component": "server"},
			spread(12, 398<<20, 0.08)).WithSLO("p50", 512<<20, "profile k3lite footprint.maxIdlePSS"),
		result.NewMeasurement("binary.size", "bytes", map[string]string{"arch": "arm64"}, []float64{127 << 20}),
		result.NewMeasurement("startup.readyz", "seconds", map[string]string{"start": "restart"}, spread(5, 11.8, 0.25)).
			WithSLO("max", 30, "profile k3lite timeouts.ready"),
		result.NewMeasurement("api.latency", "seconds", map[string]string{"verb": "GET", "resource": "configmaps"},
			spread(200, 0.0042, 1.5, 0.041)).WithSLO("p99", 1, "Kubernetes SLO: mutating/non-mutating API call latency"),
		result.NewMeasurement("api.latency", "seconds", map[string]string{"verb": "LIST", "resource": "configmaps"},
			spread(200, 0.021, 2.0, 0.31)).WithSLO("p99", 5, "Kubernetes SLO: LIST cluster-scoped"),
		result.NewMeasurement("api.latency", "seconds", map[string]string{"verb": "CREATE", "resource": "configmaps"},
			spread(200, 0.0093, 1.2, 0.12)).WithSLO("p99", 1, "Kubernetes SLO: mutating/non-mutating API call latency"),
		result.NewMeasurement("footprint.idle.cpu", "percent", map[string]string{"component": "server"}, spread(30, 2.1, 1.4)),
		result.NewMeasurement("api.rate.achieved", "ops/s", map[string]string{"verb": "CREATE"}, spread(5, 412, 0.1)),
		result.NewMeasurement("pods.startup.latency", "seconds", map[string]string{"pods": "30"}, spread(30, 1.9, 0.3)).
			WithSLO("p99", 5, "Kubernetes pod startup latency SLO (image present)"),
		image("pause:3.10.2", 312<<10, "go package github.com/distrobench/distrobench/distro/images/pause (k3lite's own pause)"),
		image("agnhost:2.66.1", 29<<20, "go module k8s.io/kubernetes (test/images/agnhost) + debian curl 8.14.1-2, netcat-openbsd 1.229-1, bind9-host 1:9.20.11-4"),
	}
	return r
}

// image is an image.size measurement as internal/job records it: short
// labels, provenance in the attributes.
func image(name string, size float64, source string) result.Measurement {
	m := result.NewMeasurement("image.size", "bytes", map[string]string{"image": name, "arch": "arm64"}, []float64{size})
	m.Attributes = map[string]string{
		"reference": "registry.k8s.io/e2e-test-images/" + name, "source": source,
		"digest": "sha256:" + strings.Repeat(fmt.Sprintf("%02x", len(name)), 32),
	}
	return m
}

// failedFixture is a MySQL run where conformance failed (one failed and one
// errored spec), an SLO was missed and the server log tail was captured.
// Some free text deliberately still holds secrets, to prove the renderers
// redact them again.
func failedFixture() *result.Report {
	start := t0.Add(2 * time.Hour)
	r := baseFixture(start, "20260115T113000Z-k3lite-mysql", "mysql")
	r.Status = result.StatusFailed
	r.Phases = phases(start, result.StatusFailed, 1102.9, "2 of 7 specs did not pass")
	r.FinishedAt = start.Add(1449 * time.Second)
	r.Reason = "conformance: 1 spec failed, 1 errored; SLO missed: api.latency{resource=configmaps, verb=LIST} p99"
	r.Params.Endpoint = "mysql://root:REDACTED@tcp(127.0.0.1:3306)/kine"
	conf := &r.Tests.Items[2]
	conf.Items[1] = spec("[sig-network] Services should serve a basic endpoint from pods [Conformance]", result.StatusFailed, 305.0,
		"timed out waiting for the condition\nGet \"https://127.0.0.1:6443/api/v1/namespaces/services-4821/endpoints/endpoint-test2\": context deadline exceeded\nfailed dialing datastore mysql://root:hunter2@tcp(127.0.0.1:3306)/kine",
		map[string]string{"file": "test/e2e/network/service.go:812", "labels": "Conformance, sig-network"})
	conf.Items[3] = spec("[sig-apps] Deployment should run the lifecycle of a Deployment [Conformance]", result.StatusError, 0.4,
		"BeforeEach: create namespace: etcdserver: request timed out", nil)
	r.Tests.RollUp()
	r.Measurements[4] = result.NewMeasurement("api.latency", "seconds", map[string]string{"verb": "LIST", "resource": "configmaps"},
		spread(200, 0.9, 4.0, 7.4, 8.2, 9.0)).WithSLO("p99", 5, "Kubernetes SLO: LIST cluster-scoped")
	r.Measurements[0] = result.NewMeasurement("footprint.idle.pss", "bytes", map[string]string{"component": "server"},
		spread(12, 431<<20, 0.06)).WithSLO("p50", 512<<20, "profile k3lite footprint.maxIdlePSS")
	// Issue 11 defect 6: 29 pods start quickly and one in 5.6 s; with 30
	// samples the p99 is that slowest pod, and the SLO is missed.
	r.Measurements[8] = result.NewMeasurement("pods.startup.latency", "seconds", map[string]string{"pods": "30"},
		spread(29, 1.9, 0.3, 5.6)).WithSLO("p99", 5, "Kubernetes pod startup latency SLO (image present)")
	r.Measurements = append(r.Measurements, result.NotMeasured("footprint.datastore.size", "bytes",
		map[string]string{"datastore": "mysql"}, "the endpoint was given by the user: no data directory to size"))
	r.ServerLogTail = []string{
		`I0115 11:48:02.118  1 server.go:212] "Running kube-apiserver" version="v1.37.2"`,
		`time="2026-01-15T11:48:03Z" level=info msg="Configuring mysql database connection pooling: maxIdleConns=2, maxOpenConns=0"`,
		`W0115 11:52:44.903  1 logging.go:55] [core] grpc: addrConn.createTransport failed to connect to {Addr: "kine.sock"}`,
		`time="2026-01-15T11:52:45Z" level=error msg="error while range on /registry/configmaps: dial tcp 127.0.0.1:3306: connect: connection refused"`,
		`E0115 11:52:45.330  1 status.go:71] "Unhandled Error" err="apiserver received an error: etcdserver: request timed out"`,
		`agent join: k3lite agent --server https://10.0.0.1:6443 --token K10` + "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef" + `::server:s3cr3t-join-token`,
		`time="2026-01-15T11:53:01Z" level=info msg="Shutting down, received SIGTERM"`,
	}
	return r
}
