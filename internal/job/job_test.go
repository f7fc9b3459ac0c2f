package job

import (
	"slices"
	"testing"

	"github.com/distrobench/distrobench/internal/deploy"
	"github.com/distrobench/distrobench/internal/profile"
	"github.com/distrobench/distrobench/internal/upstream"
)

// TestMainJobTable: the main job's phases, their order, which ones gate the
// rest, and when each applies.
func TestMainJobTable(t *testing.T) {
	names := func(phases []Phase) []string {
		var out []string
		for _, ph := range phases {
			out = append(out, ph.Name)
		}
		return out
	}
	j := &mainJob{o: Options{Conform: ConformanceOptions{Upstream: upstream.ModeCore}}}
	phases := j.phases()
	want := []string{PhaseBuild, PhaseImages, PhaseUp, PhaseFootprint, PhaseConformance, PhaseUpstream, PhaseBench, PhaseDown}
	if !slices.Equal(names(phases), want) {
		t.Fatalf("phases %v, want %v", names(phases), want)
	}
	for _, ph := range phases {
		wantGate := ph.Name == PhaseBuild || ph.Name == PhaseImages || ph.Name == PhaseUp
		if ph.Gate != wantGate || ph.Finally != (ph.Name == PhaseDown) {
			t.Errorf("%s: gate %v finally %v", ph.Name, ph.Gate, ph.Finally)
		}
	}
	withNodes, serverOnly := &profile.Profile{}, &profile.Profile{}
	serverOnly.Spec.Server.Args = []string{"--disable-agent"}
	applying := func(j *mainJob, tg *Target) []string {
		var out []string
		for _, ph := range j.phases() {
			if ph.applies(tg) {
				out = append(out, ph.Name)
			}
		}
		return out
	}
	up := &Target{Profile: withNodes, Cluster: &deploy.Cluster{}}
	for _, tc := range []struct {
		name string
		o    Options
		tg   *Target
		want []string
	}{
		{"everything", j.o, up, want},
		{"server only, not up", j.o, &Target{Profile: serverOnly},
			[]string{PhaseBuild, PhaseUp, PhaseFootprint, PhaseConformance, PhaseUpstream, PhaseBench}},
		{"skip bench", Options{Bench: BenchOptions{Skip: true}}, up,
			[]string{PhaseBuild, PhaseImages, PhaseUp, PhaseConformance, PhaseDown}},
		{"skip conformance", Options{Conform: ConformanceOptions{Skip: true, Upstream: upstream.ModeCore}}, up,
			[]string{PhaseBuild, PhaseImages, PhaseUp, PhaseFootprint, PhaseBench, PhaseDown}},
	} {
		if got := applying(&mainJob{o: tc.o}, tc.tg); !slices.Equal(got, tc.want) {
			t.Errorf("%s: applies %v, want %v", tc.name, got, tc.want)
		}
	}
}
