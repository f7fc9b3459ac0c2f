package upstream

import (
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/distrobench/distrobench/internal/redact"
)

// redactOutputs redacts, in place, the raw files a pass leaves in its
// directory next to the report (ginkgo's output e2e.log and the JUnit
// reports under --report-dir) with the patterns the report itself is
// redacted with (internal/redact). A file that cannot be redacted is
// removed: better no raw log than one with a datastore password in it.
func redactOutputs(log *slog.Logger, dir string) {
	_ = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !rawOutput(d.Name()) {
			return nil
		}
		changed, err := redact.File(path)
		switch {
		case err != nil:
			log.Warn("could not redact a raw output file: removing it", "file", path, "err", err)
			if rerr := os.Remove(path); rerr != nil {
				log.Error("could not remove an unredacted output file: delete it before sharing the report", "file", path, "err", rerr)
			}
		case changed:
			log.Info("redacted secrets in a raw output file", "file", path)
		}
		return nil
	})
}

// rawOutput tells the text files a pass writes: logs and JUnit XML.
func rawOutput(name string) bool {
	return !strings.HasPrefix(name, ".") && (strings.HasSuffix(name, ".log") || strings.HasSuffix(name, ".xml"))
}
