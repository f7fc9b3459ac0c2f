package redact

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// File redacts every secret pattern String knows in the text file at path,
// in place and line by line (a ginkgo log can be tens of megabytes), and
// reports whether anything was masked. The file keeps its mode; it is only
// rewritten when something changed. A missing file is not an error.
func File(path string) (changed bool, err error) {
	in, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("redact %s: %w", path, err)
	}
	defer in.Close()
	fi, err := in.Stat()
	if err != nil {
		return false, fmt.Errorf("redact %s: %w", path, err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".redact-*")
	if err != nil {
		return false, fmt.Errorf("redact %s: %w", path, err)
	}
	defer os.Remove(tmp.Name()) // after the rename, a no-op
	changed, err = copyRedacted(tmp, in)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return false, fmt.Errorf("redact %s: %w", path, err)
	}
	if !changed {
		return false, nil
	}
	if err := os.Chmod(tmp.Name(), fi.Mode().Perm()); err != nil {
		return false, fmt.Errorf("redact %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return false, fmt.Errorf("redact %s: %w", path, err)
	}
	return true, nil
}

// copyRedacted copies r to w through String, line by line.
func copyRedacted(w io.Writer, r io.Reader) (changed bool, err error) {
	br, bw := bufio.NewReader(r), bufio.NewWriter(w)
	for {
		line, rerr := br.ReadString('\n')
		if line != "" {
			out := String(strings.TrimSuffix(line, "\n"))
			if strings.HasSuffix(line, "\n") {
				out += "\n"
			}
			changed = changed || out != line
			if _, err := bw.WriteString(out); err != nil {
				return false, err
			}
		}
		if errors.Is(rerr, io.EOF) {
			return changed, bw.Flush()
		}
		if rerr != nil {
			return false, rerr
		}
	}
}
