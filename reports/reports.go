// Package reports renders a distrobench run report (internal/result.Report,
// the canonical model) as JSON, one self-contained HTML page, JUnit XML and a
// Markdown summary. Renderers read only the model; every free-text field is
// passed through internal/redact once more before output, and output is
// deterministic (sorted map keys, no clock reads) so that re-rendering a
// report.json gives byte-identical files.
package reports

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/distrobench/distrobench/internal/atomicfile"
	"github.com/distrobench/distrobench/internal/result"
)

// Report formats accepted by Render.
const (
	FormatJSON     = "json"
	FormatHTML     = "html"
	FormatJUnit    = "junit"
	FormatMarkdown = "md"
)

// Formats lists the formats Render accepts, in a stable order.
func Formats() []string {
	return []string{FormatJSON, FormatHTML, FormatJUnit, FormatMarkdown}
}

// File names WriteAll writes inside the output directory.
const (
	FileJSON     = "report.json"
	FileHTML     = "report.html"
	FileJUnit    = "junit.xml"
	FileMarkdown = "summary.md"
	// LatestLink is the symlink LinkLatest maintains in the base directory.
	LatestLink = "latest"
)

// Paths are the files WriteAll wrote.
type Paths struct {
	Dir, JSON, HTML, JUnit, Markdown string
}

// errNilReport is returned when a renderer is given no report.
var errNilReport = errors.New("no report to render (nil *result.Report)")

// JSON writes the report as indented JSON (the canonical report.json).
func JSON(w io.Writer, r *result.Report) error {
	if r == nil {
		return errNilReport
	}
	data, err := sanitize(r).Marshal()
	if err != nil {
		return err
	}
	if _, err := w.Write(data); err != nil {
		return fmt.Errorf("write JSON report %s: %w", r.RunID, err)
	}
	return nil
}

// Render writes r in one format: json, html, junit or md.
func Render(r *result.Report, format string, w io.Writer) error {
	var render func(io.Writer, *result.Report) error
	switch strings.ToLower(format) {
	case FormatJSON:
		render = JSON
	case FormatHTML:
		render = HTML
	case FormatJUnit:
		render = JUnit
	case FormatMarkdown:
		render = Markdown
	default:
		return fmt.Errorf("unknown report format %q (valid formats: %s)", format, strings.Join(Formats(), ", "))
	}
	return render(w, r)
}

// WriteAll renders every format into dir (created if missing):
// report.json, report.html, junit.xml and summary.md. All formats are
// rendered in memory first, so a rendering error writes nothing; each file
// is then replaced atomically (result.WriteFile), so a reader never sees a
// half-written file.
func WriteAll(r *result.Report, dir string) (Paths, error) {
	if r == nil {
		return Paths{}, errNilReport
	}
	p := Paths{
		Dir:      dir,
		JSON:     filepath.Join(dir, FileJSON),
		HTML:     filepath.Join(dir, FileHTML),
		JUnit:    filepath.Join(dir, FileJUnit),
		Markdown: filepath.Join(dir, FileMarkdown),
	}
	with := func(render func(io.Writer, *result.Report) error) func(io.Writer) error {
		return func(w io.Writer) error { return render(w, r) }
	}
	rendered := []renderedFile{{p.JSON, with(JSON)}, {p.HTML, with(HTML)}, {p.JUnit, with(JUnit)}, {p.Markdown, with(Markdown)}}
	if err := writeRendered(dir, rendered); err != nil {
		return Paths{}, err
	}
	return p, nil
}

// renderedFile is one file of a set written together.
type renderedFile struct {
	path   string
	render func(io.Writer) error
}

// writeRendered renders every file in memory first, so a rendering error
// writes nothing, then creates dir and replaces each file atomically
// (result.WriteFile), so a reader never sees a half-written file.
func writeRendered(dir string, files []renderedFile) error {
	bufs := make([][]byte, len(files))
	for i, f := range files {
		var buf bytes.Buffer
		if err := f.render(&buf); err != nil {
			return fmt.Errorf("render %s: %w", filepath.Base(f.path), err)
		}
		bufs[i] = buf.Bytes()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create report directory: %w (is the output path writable?)", err)
	}
	for i, f := range files {
		if err := result.WriteFile(f.path, bufs[i]); err != nil {
			return fmt.Errorf("write report: %w", err)
		}
	}
	return nil
}

var unsafeRunIDChars = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// OutputDir is the directory of one run's reports: <base>/<RunID>. Characters
// that are not safe in a file name are replaced by "-" so that a run ID can
// never point outside base.
func OutputDir(base string, r *result.Report) string {
	id := ""
	if r != nil {
		id = unsafeRunIDChars.ReplaceAllString(r.RunID, "-")
	}
	id = strings.Trim(id, ".-")
	if id == "" {
		id = "unnamed-run"
	}
	return filepath.Join(base, id)
}

// LinkLatest points <base>/latest at dir. The link is made under a temporary
// name and renamed over the old one, so <base>/latest always exists and
// always points at a complete run. The target is stored relative to base
// when dir lies inside it, so the whole base directory can be moved or
// archived.
func LinkLatest(base, dir string) error {
	target := dir
	if rel, err := filepath.Rel(base, dir); err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) && !filepath.IsAbs(rel) {
		target = rel
	} else if abs, err := filepath.Abs(dir); err == nil {
		target = abs
	}
	link := filepath.Join(base, LatestLink)
	if fi, err := os.Lstat(link); err == nil && fi.Mode()&os.ModeSymlink == 0 {
		return fmt.Errorf("link latest run: %s exists and is not a symlink (remove it to let distrobench manage it)", link)
	}
	if err := atomicfile.Symlink(target, link); err != nil {
		return fmt.Errorf("link latest run: %w (is %s writable?)", err, base)
	}
	return nil
}
