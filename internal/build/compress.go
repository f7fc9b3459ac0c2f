package build

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"

	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
)

// xzMethod labels sizes from github.com/ulikunitz/xz. That library has no
// "-9" preset; its default settings (8 MiB dictionary, hash-table matcher)
// compress less than xz -9, so the label does not claim a level.
const xzMethod = "xz"

// zstdMethod says how the zstd size is measured. klauspost/compress's best
// encoder level (SpeedBestCompression) corresponds to roughly zstd level 11
// (EncoderLevelFromZstd maps every level >= 10 onto it), so it cannot give the
// "zstd -19" figure distributions publish. When the zstd CLI is installed it
// is used at level 19 instead; otherwise the library's best, labelled as such.
func zstdMethod() string {
	if _, err := exec.LookPath("zstd"); err == nil {
		return "zstd-19"
	}
	return "zstd-best"
}

// countWriter counts bytes and discards them.
type countWriter struct{ n int64 }

func (w *countWriter) Write(p []byte) (int, error) {
	w.n += int64(len(p))
	return len(p), nil
}

// compressedSizes compresses the file at path to nowhere, counting bytes, with
// zstd and xz at once (the two run on separate cores).
func compressedSizes(ctx context.Context, path string) (zstdSize int64, zMethod string, xzSize int64, xMethod string, err error) {
	zMethod, xMethod = zstdMethod(), xzMethod
	var zErr error
	done := make(chan struct{})
	go func() {
		defer close(done)
		zstdSize, zErr = zstdSizeOf(ctx, path, zMethod)
	}()
	xzSize, xErr := xzSizeOf(ctx, path)
	<-done
	if zErr != nil {
		return 0, "", 0, "", zErr
	}
	if xErr != nil {
		return 0, "", 0, "", xErr
	}
	return zstdSize, zMethod, xzSize, xMethod, nil
}

func zstdSizeOf(ctx context.Context, path, method string) (int64, error) {
	cw := &countWriter{}
	if method == "zstd-19" {
		// -T0: all cores; zstd's multi-threaded output does not depend on
		// the number of threads, so the figure is the same on every host.
		cmd := exec.CommandContext(ctx, "zstd", "-19", "-T0", "-q", "-c", "--", path)
		cmd.Stdout = cw
		out, err := cmd.StderrPipe()
		if err != nil {
			return 0, err
		}
		if err := cmd.Start(); err != nil {
			return 0, fmt.Errorf("zstd -19 %s: %w", path, err)
		}
		msg, _ := io.ReadAll(io.LimitReader(out, 4096))
		if err := cmd.Wait(); err != nil {
			return 0, fmt.Errorf("zstd -19 %s: %w: %s", path, err, msg)
		}
		return cw.n, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	enc, err := zstd.NewWriter(cw, zstd.WithEncoderLevel(zstd.SpeedBestCompression))
	if err != nil {
		return 0, err
	}
	if _, err := io.Copy(enc, ctxReader{ctx, f}); err != nil {
		enc.Close()
		return 0, fmt.Errorf("zstd-compressing %s: %w", path, err)
	}
	if err := enc.Close(); err != nil {
		return 0, fmt.Errorf("zstd-compressing %s: %w", path, err)
	}
	return cw.n, nil
}

func xzSizeOf(ctx context.Context, path string) (int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	cw := &countWriter{}
	w, err := xz.WriterConfig{}.NewWriter(cw)
	if err != nil {
		return 0, err
	}
	if _, err := io.Copy(w, ctxReader{ctx, f}); err != nil {
		return 0, fmt.Errorf("xz-compressing %s: %w", path, err)
	}
	if err := w.Close(); err != nil {
		return 0, fmt.Errorf("xz-compressing %s: %w", path, err)
	}
	return cw.n, nil
}

// ctxReader stops a long compression when ctx is cancelled.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (r ctxReader) Read(p []byte) (int, error) {
	if err := r.ctx.Err(); err != nil {
		return 0, err
	}
	return r.r.Read(p)
}
