package job

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/distrobench/distrobench/internal/atomicfile"
	"github.com/distrobench/distrobench/internal/deploy"
)

// CurrentRun is the link in the runs directory to the run directory of
// the newest 'distrobench up', which the commands on a cluster default to.
const CurrentRun = "current"

// makeRunDir creates the run directory runsDir/runID (0700: it holds the
// cluster's credentials).
func makeRunDir(runsDir, runID string) (string, error) {
	dir := filepath.Join(runsDir, runID)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("create run directory: %w", err)
	}
	return dir, nil
}

func linkCurrent(runsDir, runDir string) error {
	return atomicfile.Symlink(filepath.Base(runDir), filepath.Join(runsDir, CurrentRun))
}

// LoadRun loads the cluster 'distrobench up' left running in runDir, by
// default (runDir "") the newest one, runsDir's CurrentRun.
func LoadRun(runsDir, runDir string) (*deploy.Cluster, error) {
	dir := runDir
	if dir == "" {
		dir = filepath.Join(runsDir, CurrentRun)
		if _, err := os.Lstat(dir); errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("no cluster is up (%s does not exist): start one with 'distrobench up' or pass --run-dir", dir)
		}
		if target, err := filepath.EvalSymlinks(dir); err == nil {
			dir = target
		}
	}
	return deploy.Load(dir)
}
