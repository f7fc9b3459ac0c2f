package measure

import (
	"context"
	"fmt"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/distrobench/distrobench/internal/result"
)

// Compaction is growth's last point, still to take: every object was
// deleted, and once the datastore has compacted past rv (compactionRetain
// before the revision that followed the deletions) the server's memory and
// the datastore's size are read again (label stage=compacted): what the
// datastore gives back of what it grew by.
//
// kine (K3s's datastore layer) never compacts its latest 1000 revisions
// (--compact-min-retain): waiting for the deletions' own last revision
// would wait until 1000 more writes, half an hour on an idle cluster. What
// it keeps of the deletions is their last 1000 tombstones; etcd compacts
// rv and the deletions' end at the same apiserver compaction.
type Compaction struct {
	g         *growth
	rv        string
	deletedAt time.Time
}

// Wait waits until the datastore compacted past the deletions, at most
// until timeout after them, then reads memory and size. It knows through
// the Kubernetes API alone, whatever the datastore: a list of the growth
// namespace at exactly revision rv answers until rv is compacted away, then
// 410 Gone. (The apiserver's watch cache serves exact revisions it still
// holds, and drops those below the storage's compaction revision within
// 15 s; beyond that the list goes to the datastore.) kube-apiserver
// compacts every --etcd-compaction-interval, 5 min by default, to the
// revision it saw one interval before: allow two intervals. A datastore
// that did not compact in time makes both figures not measured, with the
// reason; only a cancelled ctx is an error.
func (p *Compaction) Wait(ctx context.Context, timeout time.Duration) ([]result.Measurement, error) {
	if timeout <= 0 {
		return p.Skipped("not waited for (no compaction timeout)"), nil
	}
	how, err := p.waitCompacted(ctx, timeout)
	if ctx.Err() != nil {
		return nil, fmt.Errorf("growth: waiting for compaction: %w", ctx.Err())
	}
	if err != nil {
		return p.Skipped(err.Error()), nil
	}
	p.g.progress("%s", how)
	mem, size := p.g.readCosts(ctx, p.labels())
	return []result.Measurement{mem.WithAttribute("growth.compaction", how), size.WithAttribute("growth.compaction", how)}, nil
}

// Skipped is the compacted point not taken, with the reason.
func (p *Compaction) Skipped(why string) []result.Measurement {
	return []result.Measurement{
		result.NotMeasured(GrowthMemoryMetric, "bytes", p.labels(), why),
		result.NotMeasured(GrowthSizeMetric, "bytes", p.labels(), why),
	}
}

// compactionRetain is how many of the latest revisions kine keeps when it
// compacts (its default compact-min-retain, which K3s and k3lite keep).
const compactionRetain = 1000

func (p *Compaction) labels() map[string]string { return p.g.labels(StageLabel, StageCompacted) }

// waitCompacted asks every poll until rv is compacted away, and says how
// it knows.
func (p *Compaction) waitCompacted(ctx context.Context, timeout time.Duration) (string, error) {
	deadline := p.deletedAt.Add(timeout)
	p.g.progress("waiting for the datastore to compact past revision %s (at most until %s after the deletions)", p.rv, timeout)
	for {
		_, err := p.g.c.client.CoreV1().ConfigMaps(p.g.c.ns).List(ctx, metav1.ListOptions{
			ResourceVersion: p.rv, ResourceVersionMatch: metav1.ResourceVersionMatchExact, Limit: 1})
		switch {
		case apierrors.IsResourceExpired(err) || apierrors.IsGone(err):
			return fmt.Sprintf("compacted past revision %s: a list at exactly that revision answered 410 Gone %s after the deletions",
				p.rv, time.Since(p.deletedAt).Round(time.Second)), nil
		case err != nil:
			return "", fmt.Errorf("asking whether revision %s was compacted: %w", p.rv, err)
		case !time.Now().Before(deadline):
			return "", fmt.Errorf("revision %s not compacted %s after the deletions (kube-apiserver compacts every --etcd-compaction-interval, 5m by default, to the revision it saw one interval before)",
				p.rv, timeout)
		}
		if err := sleep(ctx, p.g.o.CompactionPoll); err != nil {
			return "", err
		}
	}
}
