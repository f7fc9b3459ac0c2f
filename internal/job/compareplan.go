package job

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"

	"github.com/shirou/gopsutil/v4/mem"

	"github.com/distrobench/distrobench/internal/datastore/dstype"
	"github.com/distrobench/distrobench/internal/profile"
	"github.com/distrobench/distrobench/internal/result"
)

// Memory a comparison reserves per cell when it brings cells up at once:
// upper bounds of what this machine measured (README: a 2-node k3s cell
// idles at ~620 MiB in all), with room for the growth and list workloads
// (tens of thousands of stored objects in the apiserver's watch cache).
const (
	serverNodeMemory = 2 << 30   // the server's node under load
	agentNodeMemory  = 400 << 20 // each agent node
	datastoreMemory  = 512 << 20 // a datastore server the run starts
	harnessMemory    = 1 << 30   // distrobench itself and the machine's slack
)

// cellMemory is what one cell is expected to need at most.
func cellMemory(p *profile.Profile) uint64 {
	need := uint64(serverNodeMemory) + uint64(p.Spec.Nodes.Agents)*agentNodeMemory
	if !dstype.InServer(p.Spec.Datastore.Type) && p.Spec.Datastore.Endpoint == "" {
		need += datastoreMemory
	}
	return need
}

// planTogether decides whether the cells come up at once: when the user
// did not ask for one at a time and the memory available now holds all of
// them. The text says what was decided and from which figures.
func planTogether(ctx context.Context, oneAtATime bool, ps []*profile.Profile) (bool, string) {
	var need uint64 = harnessMemory
	for _, p := range ps {
		need += cellMemory(p)
	}
	if oneAtATime {
		return false, "one cell at a time, as asked (--one-at-a-time)"
	}
	vm, err := mem.VirtualMemoryWithContext(ctx)
	if err != nil {
		return false, fmt.Sprintf("one cell at a time: the memory available could not be read (%v)", err)
	}
	return decideTogether(need, vm.Available, len(ps))
}

// decideTogether compares the memory the cells need with what is available.
func decideTogether(need, available uint64, cells int) (bool, string) {
	figures := fmt.Sprintf("%d cells need up to %s, %s available", cells, gib(need), gib(available))
	if need > available {
		return false, "one cell at a time, not interleaved: " + figures
	}
	return true, "all cells up at once: " + figures
}

func gib(b uint64) string { return fmt.Sprintf("%.1f GiB", float64(b)/(1<<30)) }

// mergeRounds sets one cell's figures of every round together for its own
// report: the samples of each figure (name and labels) from all rounds in
// one measurement, its SLO judged again over them. A figure that some
// rounds could not measure keeps the others' samples and says which rounds
// missed it; one that no round measured stays not measured.
func mergeRounds(rounds [][]result.Measurement) []result.Measurement {
	var out []result.Measurement
	missed := map[int][]string{} // index in out -> why, per round that missed it
	for r, ms := range rounds {
		for _, m := range ms {
			i := slices.IndexFunc(out, func(o result.Measurement) bool {
				return o.Name == m.Name && maps.Equal(o.Labels, m.Labels)
			})
			if i < 0 {
				first := m // the first round's figure, emptied of its samples
				first.Samples, first.Missing = []float64{}, ""
				out = append(out, first)
				i = len(out) - 1
			}
			if m.Missing != "" {
				missed[i] = append(missed[i], fmt.Sprintf("round %d: %s", r+1, m.Missing))
				continue
			}
			out[i].Samples = append(out[i].Samples, m.Samples...)
		}
	}
	for i := range out {
		finishMerged(&out[i], missed[i], len(rounds))
	}
	return out
}

// finishMerged summarises a merged figure and records its rounds.
func finishMerged(m *result.Measurement, missed []string, rounds int) {
	m.Summary = result.Summarize(m.Samples)
	if len(m.Samples) == 0 {
		m.Missing = strings.Join(missed, "; ")
	}
	if m.SLO != nil {
		*m = m.WithSLO(m.SLO.Statistic, m.SLO.Threshold, m.SLO.Source)
	}
	how := fmt.Sprintf("samples of all %d rounds of the comparison", rounds)
	if len(missed) > 0 && len(m.Samples) > 0 {
		how += "; not measured in " + strings.Join(missed, "; ")
	}
	*m = m.WithAttribute("rounds", how)
}

// barrier lets a set of participants start together: wait returns once
// every participant either arrived or left (failed before arriving), so
// one participant's failure cannot keep the others waiting.
type barrier struct {
	mu      sync.Mutex
	pending int
	open    chan struct{}
}

func newBarrier(n int) *barrier {
	b := &barrier{pending: n, open: make(chan struct{})}
	if n <= 0 {
		close(b.open)
	}
	return b
}

// participant is one party of a barrier; its first wait or leave counts.
type participant struct {
	b    *barrier
	once sync.Once
}

func (b *barrier) join() *participant { return &participant{b: b} }

func (p *participant) done() {
	p.once.Do(func() {
		p.b.mu.Lock()
		defer p.b.mu.Unlock()
		if p.b.pending--; p.b.pending == 0 {
			close(p.b.open)
		}
	})
}

// wait arrives and waits for the others.
func (p *participant) wait(ctx context.Context) error {
	p.done()
	select {
	case <-p.b.open:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// leave is called when the participant is finished, arrived or not.
func (p *participant) leave() { p.done() }
