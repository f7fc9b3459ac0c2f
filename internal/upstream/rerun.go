package upstream

import (
	"errors"
	"fmt"
	"sort"

	"github.com/distrobench/distrobench/internal/result"
)

// ErrNothingToRerun is wrapped by FailedSpecs when the report has upstream
// results but none failed.
var ErrNothingToRerun = errors.New("nothing to rerun")

// upstreamSources are the MetaSource values of leaves that stand for an
// upstream spec: from our JUnit, from a sonobuoy tarball, or selected but
// not run.
var upstreamSources = map[string]bool{"junit": true, "sonobuoy": true, "not-run": true}

// FailedSpecs returns the full names of the upstream conformance specs that
// failed or errored in a distrobench report (sorted, without duplicates),
// for Options.Specs. The upstream results are recognised by their leaves'
// Meta (MetaSource), wherever the tree puts them (under RootName from Run,
// or a sonobuoy tree converted by ItemFromSonobuoy). Suite-level nodes are
// not specs and cannot be focused: they are left out. path names the report
// in errors only.
func FailedSpecs(rep *result.Report, path string) ([]string, error) {
	if rep == nil || rep.Tests == nil {
		return nil, fmt.Errorf("report %s has no test results (run `distrobench conformance --upstream` first)", path)
	}
	upstream, failed := 0, map[string]bool{}
	for _, l := range rep.Tests.Leaves() {
		it := l.Item
		if !upstreamSources[it.Meta[MetaSource]] {
			continue
		}
		upstream++
		if it.Meta[MetaSIG] == GroupSuite {
			continue
		}
		if it.Status == result.StatusFailed || it.Status == result.StatusError {
			failed[it.Name] = true
		}
	}
	if upstream == 0 {
		return nil, fmt.Errorf("report %s has no upstream conformance results (it was not written by `distrobench conformance --upstream`; run that first)", path)
	}
	if len(failed) == 0 {
		return nil, fmt.Errorf("%w: no upstream conformance spec failed in %s (%d results)", ErrNothingToRerun, path, upstream)
	}
	out := make([]string, 0, len(failed))
	for n := range failed {
		out = append(out, n)
	}
	sort.Strings(out)
	return out, nil
}

// RerunReason is the skip reason Run gives the specs a rerun leaves out.
func RerunReason(n int, path string) string {
	return fmt.Sprintf("not rerun: --rerun-failed runs only the %d specs that failed or errored in %s", n, path)
}
