// Command pack writes k3lite's helper archive (see package bundle) and a
// JSON report of its sizes. distro/Makefile runs it:
//
//	go run ./pkg/bundle/cmd/pack -o pkg/bundle/assets/amd64/helpers.tar.zst \
//	    -report _output/helpers/amd64/bundle.json _output/helpers/amd64/runc ...
//
// The report's fields are read by the harness (internal/build) to record the
// bundle's sizes next to the binary's.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/klauspost/compress/zstd"

	"github.com/distrobench/distrobench/distro/pkg/bundle"
)

// Report is the -report file.
type Report struct {
	Hash        string `json:"hash"`
	Compression string `json:"compression"`
	// RawSize is the sum of the helpers' sizes; CompressedSize the archive's.
	RawSize        int64        `json:"rawSize"`
	CompressedSize int64        `json:"compressedSize"`
	Files          []ReportFile `json:"files"`
}

// ReportFile is one helper. CompressedAlone is its size compressed on its
// own with the archive's settings: the archive compresses all of them as one
// stream, so no per-file share of it exists.
type ReportFile struct {
	Name            string `json:"name"`
	Size            int64  `json:"size"`
	SHA256          string `json:"sha256"`
	CompressedAlone int64  `json:"compressedAlone"`
}

func main() {
	out := flag.String("o", "", "archive to write (replaced atomically)")
	report := flag.String("report", "", "JSON report to write (optional)")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "usage: pack -o ARCHIVE [-report JSON] FILE...\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	if *out == "" || flag.NArg() == 0 {
		flag.Usage()
		os.Exit(2)
	}
	if err := run(*out, *report, flag.Args()); err != nil {
		fmt.Fprintln(os.Stderr, "pack:", err)
		os.Exit(1)
	}
}

func run(out, reportPath string, files []string) error {
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(out), "."+filepath.Base(out)+".tmp-")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	m, err := bundle.Pack(tmp, files)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("writing %s: %w", out, err)
	}
	fi, err := os.Stat(tmp.Name())
	if err != nil {
		return err
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), out); err != nil {
		return err
	}
	r := Report{Hash: m.Hash, Compression: bundle.Compression, RawSize: m.RawSize(), CompressedSize: fi.Size()}
	byName := map[string]string{}
	for _, f := range files {
		byName[filepath.Base(f)] = f
	}
	for _, f := range m.Files {
		alone, err := compressedAlone(byName[f.Name])
		if err != nil {
			return err
		}
		r.Files = append(r.Files, ReportFile{Name: f.Name, Size: f.Size, SHA256: f.SHA256, CompressedAlone: alone})
		fmt.Printf("  %-26s %10d bytes, %10d alone compressed\n", f.Name, f.Size, alone)
	}
	fmt.Printf("%s: %d helpers, %d bytes raw, %d compressed (%s), hash %s\n",
		out, len(m.Files), r.RawSize, r.CompressedSize, r.Compression, m.Hash[:12])
	if reportPath == "" {
		return nil
	}
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(reportPath), 0o755); err != nil {
		return err
	}
	return os.WriteFile(reportPath, append(b, '\n'), 0o644)
}

type counter struct{ n int64 }

func (c *counter) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }

func compressedAlone(path string) (int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	c := &counter{}
	enc, err := zstd.NewWriter(c, zstd.WithEncoderLevel(zstd.SpeedBestCompression), zstd.WithWindowSize(bundle.WindowSize))
	if err != nil {
		return 0, err
	}
	if _, err := io.Copy(enc, f); err != nil {
		enc.Close()
		return 0, err
	}
	if err := enc.Close(); err != nil {
		return 0, err
	}
	return c.n, nil
}
