package measure

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/shirou/gopsutil/v4/process"

	"github.com/distrobench/distrobench/internal/cgroup"
	"github.com/distrobench/distrobench/internal/result"
)

// Roles of the units an idle footprint measures (label "role").
const (
	RoleServer    = "server"    // the server (with its own node, when it runs an agent)
	RoleAgent     = "agent"     // an agent node
	RoleDatastore = "datastore" // a datastore server the run started
)

// Unit is one thing the idle footprint measures: a node (the server's, or
// an agent's) or a datastore server.
type Unit struct {
	// Name is the node's name ("node0"; label "node"), or a datastore
	// process's name.
	Name string
	Role string
	// PID is the server, agent or datastore process; it must be running.
	PID int
	// Cgroup is the node's own cgroup (a path in the CPU hierarchy, see
	// internal/cgroup), which the deployer started the node's first process
	// in: its members are the node's processes (containerd shims that
	// re-parented to init included) and its CPU time includes processes that
	// already exited. Empty: the process tree of PID is measured, CPU time
	// being the live processes' own plus what they reaped of their children.
	Cgroup string
	// Pods is the cgroup under which the node's kubelet puts its pods (its
	// --cgroup-root + "/kubepods"): reported apart from the node's own cost.
	// Empty: the unit runs no pods (not a node).
	Pods string
	// ControlPlane names, by pod UID, the node's pods that are its control
	// plane (static pods: UID -> component): they count as the node's own
	// processes, not as its pods (staticpods.go).
	ControlPlane map[string]string
}

// Settle defines "idle", once for every figure taken while the cluster
// idles: sampling starts once at least Min has passed since the
// measurement began and every unit (its own processes and its pods) used
// at most CPU percent of one core over the last Interval; after Max it
// starts anyway, and the measurement says it did not settle.
type Settle struct {
	Min, Max, Interval time.Duration
	// CPU is the threshold per unit, percent of one core.
	CPU float64
}

// DefaultSettle is the definition of idle the harness uses: start-up work
// (image imports, the first pods, leader elections, the first controller
// resyncs) is over once a node keeps under a quarter of a core.
var DefaultSettle = Settle{Min: 30 * time.Second, Max: 3 * time.Minute, Interval: 5 * time.Second, CPU: 25}

// String states the rule, for the idle.settle attribute.
func (s Settle) String() string {
	return fmt.Sprintf("at least %s, then until every unit (own processes + pods) used <= %g%% of one core over %s; at most %s",
		s.Min, s.CPU, s.Interval, s.Max)
}

// IdleOptions configure an idle footprint measurement.
type IdleOptions struct {
	Units []Unit
	// Settle is waited for before sampling; zero: sampling starts at once.
	Settle Settle
	// Window is how long to sample (default 60s).
	Window time.Duration
	// Interval between samples (default 5s).
	Interval time.Duration
	// Labels are put on every measurement (profile, datastore, arch, ...).
	Labels map[string]string
	// Progress receives short status lines; optional.
	Progress func(string)
	// Alongside, when set, starts another measurement when the window
	// starts (after settling); the stop function it returns is called when
	// the window ends and its figures are returned with the footprint's,
	// so they describe the same idle window (control-plane chatter).
	Alongside func(ctx context.Context) (stop func() []result.Measurement)
	// Barrier, when set, is called once the units settled; the window
	// starts when it returns, from a fresh sample. A comparison waits there
	// until every cell settled, so that all its cells share one window.
	Barrier func(ctx context.Context) error
}

// Idle waits until the units settle (o.Settle), then samples every unit
// every o.Interval over o.Window, all in that one window, and returns:
//   - "footprint.idle.rss", "footprint.idle.pss" (bytes, one sample per
//     tick including the start) and "footprint.idle.cpu" (percent of one
//     core per interval): the server's own processes (without its pods) and
//     the datastore servers; with datastore servers also the server alone
//     (label scope=server-only);
//   - per node (labels node, role): "footprint.agent.pss" and
//     "footprint.agent.rss", the node's own processes without the pods (on
//     the server's node, without the server process itself);
//     "footprint.node.cpu", the node's own processes (server included);
//     "footprint.node.pods.pss" and "footprint.node.pods.cpu", its pods.
//
// Every measurement's attributes record how idle was reached (idle.settle),
// the window (idle.window) and how CPU time was read (cpu.method).
func Idle(ctx context.Context, o IdleOptions) ([]result.Measurement, error) {
	if len(o.Units) == 0 {
		return nil, errors.New("idle footprint: nothing to measure (is the server running?)")
	}
	if o.Window <= 0 {
		o.Window = 60 * time.Second
	}
	if o.Interval <= 0 {
		o.Interval = 5 * time.Second
	}
	sm, err := newSampler(o.Units)
	if err != nil {
		return nil, err
	}
	first, settled, err := settle(ctx, sm, o.Settle, o.Progress)
	if err != nil {
		return nil, err
	}
	if o.Barrier != nil {
		if first, err = waitBarrier(ctx, sm, o.Barrier); err != nil {
			return nil, err
		}
	}
	if o.Progress != nil {
		o.Progress(fmt.Sprintf("idle footprint over %s (%s)", o.Window, settled))
	}
	stopAlongside := func() []result.Measurement { return nil }
	if o.Alongside != nil {
		stopAlongside = o.Alongside(ctx)
	}
	ticks, err := sampleWindow(ctx, sm, first, o.Window, o.Interval)
	alongside := stopAlongside()
	if err != nil {
		return alongside, err
	}
	attrs := provenance{
		"idle.settle": settled,
		"idle.window": fmt.Sprintf("%s, a sample every %s", o.Window, o.Interval),
	}
	ss := allSeries(sm, ticks)
	placed := maps.Clone(attrs)
	if p := placement(sm, ticks); p != "" {
		placed[result.PlacementAttr] = p
	}
	out := idleMeasurements(sm, ss, placed, o.Labels)
	out = append(out, clusterMeasurements(sm, ss, attrs, o.Labels)...)
	return append(out, alongside...), nil
}

// unitSample is one sample of one unit.
type unitSample struct {
	own, pods map[int32]procSample
	// shims are the pods' runtime shims, taken out of own (takeShims): they
	// count with the pods.
	shims map[int32]procSample
	// podCount is how many pods the node runs (its pod cgroups).
	podCount int
	// ownCPU, podsCPU are cumulative CPU seconds of a cgroup (cgroup method
	// only; the tree method derives CPU from own).
	ownCPU, podsCPU float64
	// podsMissing says why the pods were not measured (their cgroup does
	// not exist: the kubelet puts them elsewhere).
	podsMissing string
	// controlPlane are the control-plane static pods' processes by
	// component (in own too) and their cumulative CPU seconds.
	controlPlane    map[string]map[int32]procSample
	controlPlaneCPU map[string]float64
}

// tick is one sample of every unit, at one time.
type tick struct {
	at    time.Time
	units []unitSample
}

type sampler struct {
	units []Unit
	h     *cgroup.Hierarchy // nil when no unit has a cgroup
}

func newSampler(units []Unit) (*sampler, error) {
	sm := &sampler{units: units}
	for _, u := range units {
		if u.Cgroup == "" && u.Pods == "" {
			continue
		}
		h, err := cgroup.CPU()
		if err != nil {
			return nil, fmt.Errorf("idle footprint: %w", err)
		}
		sm.h = &h
		break
	}
	return sm, nil
}

// method says how a unit's CPU time is read, for the cpu.method attribute.
func (sm *sampler) method(u Unit) string {
	if u.Cgroup != "" && sm.h != nil {
		return sm.h.Describe() + " of the node's cgroup"
	}
	return "process tree: live processes' utime+stime plus the cutime+cstime of the children they reaped"
}

func (sm *sampler) sample(ctx context.Context) (tick, error) {
	t := tick{units: make([]unitSample, len(sm.units))}
	for i, u := range sm.units {
		s, err := sm.sampleUnit(ctx, u)
		if err != nil {
			return tick{}, fmt.Errorf("idle footprint of %s %s: %w", u.Role, u.Name, err)
		}
		t.units[i] = s
	}
	t.at = time.Now()
	return t, nil
}

func (sm *sampler) sampleUnit(ctx context.Context, u Unit) (unitSample, error) {
	var s unitSample
	if u.Cgroup == "" {
		s.own = map[int32]procSample{}
		if err := sampleTree(ctx, int32(u.PID), s.own); err != nil {
			return s, err
		}
	} else {
		own, err := sm.sampleCgroup(ctx, u.Cgroup)
		if err != nil {
			return s, err
		}
		s.own, s.ownCPU = own.procs, own.cpu
		if _, ok := s.own[int32(u.PID)]; !ok && u.PID > 0 {
			return s, fmt.Errorf("process %d is not running in cgroup %s (did it exit or crash? check its log)", u.PID, u.Cgroup)
		}
	}
	if u.Pods != "" {
		pods, err := sm.sampleCgroup(ctx, u.Pods)
		if errors.Is(err, fs.ErrNotExist) {
			s.podsMissing = fmt.Sprintf("the pods' cgroup %s does not exist (does the kubelet use the cgroupfs driver with --cgroup-root?)", u.Pods)
			return s, nil
		}
		if err != nil {
			return s, err
		}
		s.pods, s.podsCPU, s.podCount = pods.procs, pods.cpu, countPods(workloadTree(pods.tree, u.ControlPlane))
		if len(u.ControlPlane) > 0 {
			if err := sm.takeControlPlane(u, pods.tree, &s); err != nil {
				return s, err
			}
		}
		if u.Cgroup != "" {
			s.shims = takeShims(s.own, s.pods)
		}
	}
	return s, nil
}

// takeControlPlane moves the control-plane static pods of u from its pods
// to its own processes, with their CPU time.
func (sm *sampler) takeControlPlane(u Unit, tree map[string][]int, s *unitSample) error {
	split := splitControlPlane(tree, s.pods, u.ControlPlane)
	s.controlPlane, s.controlPlaneCPU = split.byComponent, map[string]float64{}
	for comp, procs := range split.byComponent {
		maps.Copy(s.own, procs)
		used, err := sm.h.Usage(path.Join(u.Pods, split.cgroups[comp]))
		if err != nil {
			return fmt.Errorf("control-plane pod %s: %w", comp, err)
		}
		s.controlPlaneCPU[comp] = used.Seconds()
		s.ownCPU += used.Seconds()
		s.podsCPU -= used.Seconds()
	}
	return nil
}

// cgroupSample is one sample of a cgroup and the cgroups below it.
type cgroupSample struct {
	procs map[int32]procSample
	cpu   float64          // cumulative CPU seconds
	tree  map[string][]int // every cgroup below it, with its processes (cgroup.Hierarchy.Tree)
}

// sampleCgroup samples the members of cgroup p and reads its CPU time.
// Members that exit while being sampled are left out.
func (sm *sampler) sampleCgroup(ctx context.Context, p string) (cgroupSample, error) {
	used, err := sm.h.Usage(p)
	if err != nil {
		return cgroupSample{}, err
	}
	tree, err := sm.h.Tree(p)
	if err != nil {
		return cgroupSample{}, err
	}
	procs := map[int32]procSample{}
	for _, pids := range tree {
		for _, pid := range pids {
			pr, err := process.NewProcessWithContext(ctx, int32(pid))
			if err != nil {
				continue
			}
			if s, err := sampleProc(ctx, pr); err == nil {
				procs[int32(pid)] = s
			}
		}
	}
	return cgroupSample{procs: procs, cpu: used.Seconds(), tree: tree}, ctx.Err()
}

// ownCPU is the CPU seconds a unit's own processes used from prev to cur.
func ownCPU(u Unit, prev, cur unitSample) float64 {
	if u.Cgroup != "" {
		return max(cur.ownCPU-prev.ownCPU-shimCPU(prev, cur), 0)
	}
	return treeCPU(prev.own, cur.own)
}

// podsCPU is the CPU seconds a node's pods used from prev to cur, their
// shims included.
func podsCPU(prev, cur unitSample) float64 {
	return max(cur.podsCPU-prev.podsCPU, 0) + shimCPU(prev, cur)
}

// treeCPU is the CPU seconds a process tree used from prev to cur: for
// every live process, the growth of its own time plus its reaped children's
// (all of it for a process new in cur). A process of prev that is gone and
// whose parent is still in cur was reaped by that parent, whose children's
// time now holds all of the child's time: the part prev already had is
// taken off, so it does not count twice. Time of a process reaped outside
// the tree (an orphan re-parented to init) after prev is not seen: that is
// what the cgroup method is for.
func treeCPU(prev, cur map[int32]procSample) float64 {
	var used float64
	for pid, c := range cur {
		d := c.cpu + c.reaped
		if p, ok := prev[pid]; ok {
			d -= p.cpu + p.reaped
		}
		if d > 0 { // a reused PID could go backwards
			used += d
		}
	}
	for pid, p := range prev {
		if _, alive := cur[pid]; alive {
			continue
		}
		if _, parentAlive := cur[p.ppid]; parentAlive {
			used -= p.cpu + p.reaped
		}
	}
	return max(used, 0)
}

// settle samples every s.Interval until the units are idle (see Settle)
// and returns the last sample, which starts the window, and what happened.
func settle(ctx context.Context, sm *sampler, s Settle, progress func(string)) (tick, string, error) {
	prev, err := sm.sample(ctx)
	if err != nil || s.Max <= 0 {
		return prev, "not waited for", err
	}
	start := time.Now()
	for {
		if err := sleep(ctx, s.Interval); err != nil {
			return tick{}, "", fmt.Errorf("idle footprint interrupted while settling: %w", err)
		}
		cur, err := sm.sample(ctx)
		if err != nil {
			return tick{}, "", err
		}
		worst, who := sm.busiest(prev, cur)
		took := time.Since(start).Round(time.Second)
		if took >= s.Min && worst <= s.CPU {
			return cur, fmt.Sprintf("settled after %s: %s", took, s), nil
		}
		if took >= s.Max {
			return cur, fmt.Sprintf("NOT settled: %s still used %.0f%% of a core after %s (%s)", who, worst, took, s), nil
		}
		if progress != nil {
			progress(fmt.Sprintf("waiting for the cluster to idle: %s used %.0f%% of a core (threshold %g%%) after %s", who, worst, s.CPU, took))
		}
		prev = cur
	}
}

// waitBarrier waits at barrier, then takes the window's first sample: the
// settling's last one is as old as the wait.
func waitBarrier(ctx context.Context, sm *sampler, barrier func(context.Context) error) (tick, error) {
	if err := barrier(ctx); err != nil {
		return tick{}, fmt.Errorf("idle footprint: waiting for the other measurements to settle: %w", err)
	}
	return sm.sample(ctx)
}

// busiest is the unit that used the most CPU (own + pods) from prev to
// cur, in percent of one core.
func (sm *sampler) busiest(prev, cur tick) (float64, string) {
	wall := cur.at.Sub(prev.at).Seconds()
	worst, who := 0.0, ""
	for i, u := range sm.units {
		used := ownCPU(u, prev.units[i], cur.units[i]) + podsCPU(prev.units[i], cur.units[i])
		if pct := used / wall * 100; who == "" || pct > worst {
			worst, who = pct, u.Role+" "+u.Name
		}
	}
	return worst, who
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// sampleWindow samples every interval over window, starting with first.
func sampleWindow(ctx context.Context, sm *sampler, first tick, window, interval time.Duration) ([]tick, error) {
	ticks := []tick{first}
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	for range max(int(window/interval), 1) {
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("idle footprint interrupted: %w", ctx.Err())
		case <-ticker.C:
		}
		t, err := sm.sample(ctx)
		if err != nil {
			return nil, err
		}
		ticks = append(ticks, t)
	}
	return ticks, nil
}

// series are one unit's figures over the window.
type series struct {
	rss, pss, agentRSS, agentPSS, podsPSS []float64 // per tick
	cpu, podsCPU                          []float64 // percent of one core, per interval
	podsMissing                           string
	// controlPlane are the static control-plane pods' figures by
	// component (none in one process).
	controlPlane map[string]*componentSeries
}

// componentSeries are one control-plane component's figures.
type componentSeries struct {
	rss, pss, cpu []float64
}

// allSeries is every unit's series over the window, in sm.units order.
func allSeries(sm *sampler, ticks []tick) []series {
	out := make([]series, len(sm.units))
	for i, u := range sm.units {
		out[i] = unitSeries(u, ticks, i)
	}
	return out
}

func unitSeries(u Unit, ticks []tick, i int) series {
	var s series
	for k, t := range ticks {
		us := t.units[i]
		all, agent := sum(us.own), sum(agentPart(u, us))
		s.rss, s.pss = append(s.rss, float64(all.RSS)), append(s.pss, float64(all.PSS))
		s.agentRSS, s.agentPSS = append(s.agentRSS, float64(agent.RSS)), append(s.agentPSS, float64(agent.PSS))
		s.podsPSS = append(s.podsPSS, float64(sum(us.pods).PSS+sum(us.shims).PSS))
		if us.podsMissing != "" {
			s.podsMissing = us.podsMissing
		}
		var wall float64
		if k > 0 {
			prev := ticks[k-1]
			wall = max(t.at.Sub(prev.at).Seconds(), 1e-9)
			s.cpu = append(s.cpu, ownCPU(u, prev.units[i], us)/wall*100)
			s.podsCPU = append(s.podsCPU, podsCPU(prev.units[i], us)/wall*100)
		}
		s.addControlPlane(ticks, k, i, wall)
	}
	return s
}

// addControlPlane adds tick k's control-plane figures of unit i (CPU from
// the tick before, over wall seconds).
func (s *series) addControlPlane(ticks []tick, k, i int, wall float64) {
	us := ticks[k].units[i]
	for comp, procs := range us.controlPlane {
		if s.controlPlane == nil {
			s.controlPlane = map[string]*componentSeries{}
		}
		cs := s.controlPlane[comp]
		if cs == nil {
			cs = &componentSeries{}
			s.controlPlane[comp] = cs
		}
		all := sum(procs)
		cs.rss, cs.pss = append(cs.rss, float64(all.RSS)), append(cs.pss, float64(all.PSS))
		if k > 0 {
			used := us.controlPlaneCPU[comp] - ticks[k-1].units[i].controlPlaneCPU[comp]
			cs.cpu = append(cs.cpu, max(used, 0)/wall*100)
		}
	}
}

// agentPart is the agent's share of a node's own processes: all of them on
// an agent node; on the server's node all but the server process (whose
// memory is the control plane's too) and the control plane's static pods.
func agentPart(u Unit, us unitSample) map[int32]procSample {
	if u.Role != RoleServer {
		return us.own
	}
	out := maps.Clone(us.own)
	delete(out, int32(u.PID))
	for _, procs := range us.controlPlane {
		for pid := range procs {
			delete(out, pid)
		}
	}
	return out
}

// addSeries sums b into a, sample by sample.
func addSeries(a, b []float64) []float64 {
	if a == nil {
		return append([]float64(nil), b...)
	}
	for i := range min(len(a), len(b)) {
		a[i] += b[i]
	}
	return a
}

// provenance are the attributes every idle figure carries: how idle was
// reached and the window.
type provenance map[string]string

// on describes m and gives it the attributes, plus how CPU time was read
// for a CPU figure (cpuMethod non-empty).
func (a provenance) on(m result.Measurement, desc, cpuMethod string) result.Measurement {
	m = described(m, desc)
	m.Attributes = maps.Clone(a)
	if cpuMethod != "" {
		m.Attributes["cpu.method"] = cpuMethod
	}
	return m
}

func idleMeasurements(sm *sampler, ss []series, attrs provenance, labels map[string]string) []result.Measurement {
	units, method := sm.units, sm.method
	var out []result.Measurement
	var total series
	var methods []string
	var server *series
	var serverUnit Unit
	datastores := 0
	for i, u := range units {
		s := ss[i]
		switch u.Role {
		case RoleServer:
			server, serverUnit = &s, u
		case RoleDatastore:
			datastores++
		}
		if u.Role == RoleServer || u.Role == RoleDatastore {
			total.rss, total.pss, total.cpu = addSeries(total.rss, s.rss), addSeries(total.pss, s.pss), addSeries(total.cpu, s.cpu)
			methods = append(methods, u.Role+" "+u.Name+": "+method(u))
		}
		if u.Pods != "" {
			out = append(out, nodeMeasurements(u, s, method(u), sm.h.Describe()+" of the pods' cgroup", labels, attrs)...)
		}
	}
	if server == nil {
		return out
	}
	const set = "the server's own processes (on simulated hosts the members of its node's cgroup without the pods and their shims: server, containerd and all they started; else its process tree)"
	idle := func(s series, scope, who, cpuMethod string, l map[string]string) []result.Measurement {
		return []result.Measurement{
			attrs.on(result.NewMeasurement("footprint.idle.rss", "bytes", maps.Clone(l), s.rss), "resident set size of "+who+" while idle"+scope, ""),
			attrs.on(result.NewMeasurement("footprint.idle.pss", "bytes", maps.Clone(l), s.pss), "proportional set size (shared pages split between their users) of "+who+" while idle"+scope, ""),
			attrs.on(result.NewMeasurement("footprint.idle.cpu", "percent", maps.Clone(l), s.cpu), "CPU use of "+who+" while idle, percent of one core per interval, exited processes included"+scope, cpuMethod),
		}
	}
	if datastores == 0 {
		return append(idle(total, "", set, strings.Join(methods, "; "), withLabels(labels, nil)), out...)
	}
	out = append(idle(total, "", set+" and the datastore servers", strings.Join(methods, "; "), withLabels(labels, nil)), out...)
	return append(out, idle(*server, " (scope=server-only: without the datastore servers)", set, method(serverUnit),
		withLabels(labels, map[string]string{"scope": "server-only"}))...)
}

// clusterMeasurements are "footprint.cluster.pss" and
// "footprint.cluster.cpu": everything the cluster costs while idle, every
// node's own processes, every node's pods and the datastore servers, summed
// tick by tick. Unlike the per-node figures, the total does not depend on
// which node the scheduler put a system pod (CoreDNS) on, so two runs of one
// cluster compare. Nothing without nodes: the server's figures are the
// whole cost then.
func clusterMeasurements(sm *sampler, ss []series, attrs provenance, labels map[string]string) []result.Measurement {
	var total series
	nodes := 0
	for i, u := range sm.units {
		s := ss[i]
		if s.podsMissing != "" {
			return []result.Measurement{
				result.NotMeasured(ClusterPSSMetric, "bytes", withLabels(labels, nil), "pods of node "+u.Name+": "+s.podsMissing),
				result.NotMeasured(ClusterCPUMetric, "percent", withLabels(labels, nil), "pods of node "+u.Name+": "+s.podsMissing),
			}
		}
		if u.Pods != "" {
			nodes++
		}
		total.pss = addSeries(addSeries(total.pss, s.pss), s.podsPSS)
		total.cpu = addSeries(addSeries(total.cpu, s.cpu), s.podsCPU)
	}
	if nodes == 0 {
		return nil
	}
	const who = "the whole cluster: every node's own processes (server or agent, containerd), every node's pods with their shims and the datastore servers"
	return []result.Measurement{
		attrs.on(result.NewMeasurement(ClusterPSSMetric, "bytes", withLabels(labels, nil), total.pss), "proportional set size of "+who+", while idle", ""),
		attrs.on(result.NewMeasurement(ClusterCPUMetric, "percent", withLabels(labels, nil), total.cpu),
			"CPU use of "+who+", exited processes included, while idle; percent of one core per interval", sm.h.Describe()+" of each node's and pods' cgroups"),
	}
}

// Names of the whole cluster's idle figures.
const (
	ClusterPSSMetric = "footprint.cluster.pss"
	ClusterCPUMetric = "footprint.cluster.cpu"
)

func nodeMeasurements(u Unit, s series, cpuMethod, podsMethod string, labels map[string]string, attrs provenance) []result.Measurement {
	l := withLabels(labels, map[string]string{"node": u.Name, "role": u.Role})
	agent := "the agent's own processes (agent, containerd and what they started; members of the node's cgroup), without pods and their shims"
	if u.Role == RoleServer {
		agent = "the agent's part of the server's node: the node's own processes (members of its cgroup) without the server process and without pods and their shims; the kubelet inside the server process is not counted"
	}
	out := []result.Measurement{
		attrs.on(result.NewMeasurement("footprint.agent.pss", "bytes", maps.Clone(l), s.agentPSS), "proportional set size of "+agent+", while idle", ""),
		attrs.on(result.NewMeasurement("footprint.agent.rss", "bytes", maps.Clone(l), s.agentRSS), "resident set size of "+agent+", while idle", ""),
		attrs.on(result.NewMeasurement("footprint.node.cpu", "percent", maps.Clone(l), s.cpu),
			"CPU use of the node's own processes (server or agent, containerd and every process they started, exited ones included), without pods and their shims, while idle; percent of one core per interval", cpuMethod),
	}
	if s.podsMissing != "" {
		return append(out,
			result.NotMeasured("footprint.node.pods.pss", "bytes", maps.Clone(l), s.podsMissing),
			result.NotMeasured("footprint.node.pods.cpu", "percent", maps.Clone(l), s.podsMissing))
	}
	out = append(out,
		attrs.on(result.NewMeasurement("footprint.node.pods.pss", "bytes", maps.Clone(l), s.podsPSS), "proportional set size of the node's pod processes (pause and containers: members of the kubelet's pods cgroup, the control plane's static pods left out) and their shims, while idle", ""),
		attrs.on(result.NewMeasurement("footprint.node.pods.cpu", "percent", maps.Clone(l), s.podsCPU), "CPU use of the node's pods (the kubelet's pods cgroup, exited processes included, the control plane's static pods left out) and their shims, while idle; percent of one core per interval", podsMethod),
	)
	return append(out, controlPlaneMeasurements(s, l, podsMethod, attrs)...)
}

// controlPlaneMeasurements are the figures of each control-plane
// component run as a static pod (counted in the node's own figures too):
// what the RKE2 style's process split costs, component by component.
func controlPlaneMeasurements(s series, l map[string]string, podsMethod string, attrs provenance) []result.Measurement {
	var out []result.Measurement
	for _, comp := range slices.Sorted(maps.Keys(s.controlPlane)) {
		cs, cl := s.controlPlane[comp], withLabels(l, map[string]string{"component": comp})
		who := "the control plane's static pod " + comp + " (its containers, without the runtime shim), while idle"
		out = append(out,
			attrs.on(result.NewMeasurement("footprint.controlplane.pss", "bytes", maps.Clone(cl), cs.pss), "proportional set size of "+who, ""),
			attrs.on(result.NewMeasurement("footprint.controlplane.rss", "bytes", maps.Clone(cl), cs.rss), "resident set size of "+who, ""),
			attrs.on(result.NewMeasurement("footprint.controlplane.cpu", "percent", maps.Clone(cl), cs.cpu), "CPU use of "+who+"; percent of one core per interval", podsMethod+" of the pod"),
		)
	}
	return out
}

func withLabels(base, extra map[string]string) map[string]string {
	out := maps.Clone(base)
	if out == nil {
		out = map[string]string{}
	}
	maps.Copy(out, extra)
	return out
}
