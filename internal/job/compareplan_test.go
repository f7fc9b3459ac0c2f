package job

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/distrobench/distrobench/internal/profile"
	"github.com/distrobench/distrobench/internal/result"
)

func TestDecideTogether(t *testing.T) {
	if ok, why := decideTogether(10<<30, 20<<30, 4); !ok || !strings.Contains(why, "all cells up at once: 4 cells need up to 10.0 GiB, 20.0 GiB available") {
		t.Errorf("enough memory: %v %q", ok, why)
	}
	if ok, why := decideTogether(21<<30, 20<<30, 5); ok || !strings.Contains(why, "not interleaved") || !strings.Contains(why, "21.0 GiB") {
		t.Errorf("too little memory: %v %q", ok, why)
	}
}

func TestCellMemory(t *testing.T) {
	p := func(ds string, agents int) *profile.Profile {
		var pr profile.Profile
		pr.Spec.Datastore.Type, pr.Spec.Nodes.Agents = ds, agents
		return &pr
	}
	if got, want := cellMemory(p("sqlite", 1)), uint64(serverNodeMemory+agentNodeMemory); got != want {
		t.Errorf("sqlite, 1 agent: %d, want %d (no datastore server)", got, want)
	}
	if got, want := cellMemory(p("postgres", 2)), uint64(serverNodeMemory+2*agentNodeMemory+datastoreMemory); got != want {
		t.Errorf("postgres, 2 agents: %d, want %d (the server the run starts counts)", got, want)
	}
}

func TestPlanTogetherOneAtATime(t *testing.T) {
	if ok, why := planTogether(context.Background(), true, nil); ok || !strings.Contains(why, "--one-at-a-time") {
		t.Errorf("--one-at-a-time: %v %q", ok, why)
	}
}

// A participant that fails before arriving must not keep the others
// waiting; every one that arrived is released together.
func TestBarrierReleasesWhenEveryoneArrivedOrLeft(t *testing.T) {
	b := newBarrier(3)
	a, c, gone := b.join(), b.join(), b.join()
	released := make(chan error, 2)
	go func() { released <- a.wait(context.Background()) }()
	go func() { released <- c.wait(context.Background()) }()
	select {
	case err := <-released:
		t.Fatalf("released (%v) before the third participant arrived or left", err)
	case <-time.After(50 * time.Millisecond):
	}
	gone.leave()
	for range 2 {
		if err := <-released; err != nil {
			t.Fatal(err)
		}
	}
	a.leave() // after arriving: no effect
	if b.pending != 0 {
		t.Errorf("pending %d after all arrived or left, want 0", b.pending)
	}
}

func TestBarrierWaitStopsOnCancel(t *testing.T) {
	b := newBarrier(2)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := b.join().wait(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("wait on a cancelled context: %v", err)
	}
}

func TestMergeRounds(t *testing.T) {
	l := map[string]string{"verb": "get"}
	rounds := [][]result.Measurement{
		{result.NewMeasurement("api.latency", "seconds", l, []float64{1, 2}).WithSLO("p99", 1.5, "test"),
			result.NotMeasured("footprint.datastore.written", "bytes/h", nil, "no access")},
		{result.NewMeasurement("api.latency", "seconds", l, []float64{1, 1}).WithSLO("p99", 1.5, "test"),
			result.NotMeasured("footprint.datastore.written", "bytes/h", nil, "still no access")},
		{result.NotMeasured("api.latency", "seconds", l, "server down")},
	}
	ms := mergeRounds(rounds)
	if len(ms) != 2 {
		t.Fatalf("merged %d figures, want 2: %+v", len(ms), ms)
	}
	api := ms[0]
	if api.Summary.Count != 4 || api.Summary.Max != 2 || api.Missing != "" {
		t.Errorf("api.latency merged: %+v", api.Summary)
	}
	if api.SLO == nil || api.SLO.Met {
		t.Errorf("the SLO must be judged again over every round's samples (p99 2 > 1.5): %+v", api.SLO)
	}
	if !strings.Contains(api.Attributes["rounds"], "round 3: server down") {
		t.Errorf("rounds attribute %q does not say which round missed it", api.Attributes["rounds"])
	}
	if w := ms[1]; w.Missing != "round 1: no access; round 2: still no access" || w.Summary.Count != 0 {
		t.Errorf("a figure no round measured: missing %q, %d samples", w.Missing, w.Summary.Count)
	}
}

func TestRoundPhaseAndCellRunID(t *testing.T) {
	if got := roundPhase(PhaseBench, 0); got != "bench round 1" {
		t.Errorf("roundPhase = %q", got)
	}
	var p profile.Profile
	p.Metadata.Name = "k3s"
	at := time.Date(2026, 12, 7, 11, 0, 0, 0, time.UTC)
	if got := CellRunID(at, profile.Cell{Profile: &p, Datastore: "postgres", Arch: "arm64"}); got != "20261207T110000Z-k3s-postgres-arm64" {
		t.Errorf("CellRunID = %q", got)
	}
}

func TestWithoutDisruptive(t *testing.T) {
	for in, want := range map[string]string{"": "!disruptive", " ": "!disruptive", "api || nodes": "(api || nodes) && !disruptive"} {
		if got := withoutDisruptive(in); got != want {
			t.Errorf("withoutDisruptive(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestControlCellIsTheBaselineAgain: a comparison has the A/A control as
// its second cell, the baseline's profile under its own name and run
// directory; when the cells run one at a time (no call is made) the
// control is dropped, its run directory removed, and the memory note says
// so. --no-control leaves it out.
func TestControlCellIsTheBaselineAgain(t *testing.T) {
	cellOf := func(ds string) profile.Cell {
		p := &profile.Profile{}
		p.Metadata.Name = "k3s"
		p.Spec.Datastore.Type = ds
		return profile.Cell{Profile: p, Datastore: ds, Arch: "amd64"}
	}
	o := CompareOptions{Cells: []profile.Cell{cellOf("sqlite"), cellOf("postgres")}, RunsDir: t.TempDir(), OutDir: t.TempDir(), Rounds: 2, OneAtATime: true}
	cmp, err := newComparison(o, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, c := range cmp.cells {
		names = append(names, c.name)
	}
	if strings.Join(names, " ") != "k3s-sqlite-amd64 k3s-sqlite-amd64-control k3s-postgres-amd64" || !cmp.cells[1].control {
		t.Fatalf("cells %v, want the baseline, its control, then the rest", names)
	}
	if cmp.cells[1].t.Profile == cmp.cells[0].t.Profile || cmp.cells[1].t.RunDir == cmp.cells[0].t.RunDir {
		t.Error("the control shares the baseline's profile or run directory")
	}
	controlDir := cmp.cells[1].t.RunDir
	cmp.plan(context.Background())
	if len(cmp.cells) != 2 || cmp.cells[1].control || !strings.Contains(cmp.memory, "without the A/A control") {
		t.Errorf("one at a time: %d cells, memory %q; want the control dropped and said so", len(cmp.cells), cmp.memory)
	}
	if _, err := os.Stat(controlDir); !os.IsNotExist(err) {
		t.Errorf("the dropped control's run directory is still there: %v", err)
	}
	o.NoControl = true
	if cmp, err = newComparison(o, time.Now()); err != nil || len(cmp.cells) != 2 {
		t.Errorf("--no-control: %v, %d cells, want 2", err, len(cmp.cells))
	}
}
