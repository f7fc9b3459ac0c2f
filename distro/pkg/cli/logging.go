package cli

import (
	"bytes"
	"flag"
	"io"
	"log/slog"
	"strconv"
	"sync"

	"github.com/sirupsen/logrus"
	"k8s.io/klog/v2"
)

// redactingWriter replaces every secret in what passes through it. All
// loggers in the process (slog, klog for the Kubernetes components, logrus
// for kine) write through one of these, so a password that some library
// echoes never reaches the terminal or a log file.
type redactingWriter struct {
	mu      sync.Mutex
	out     io.Writer
	secrets [][]byte
}

func newRedactingWriter(out io.Writer, secrets ...string) *redactingWriter {
	w := &redactingWriter{out: out}
	for _, s := range secrets {
		// Very short strings would garble unrelated text; the secrets
		// that matter (passwords, token secrets) are longer.
		if len(s) >= 4 {
			w.secrets = append(w.secrets, []byte(s))
		}
	}
	return w
}

func (w *redactingWriter) Write(p []byte) (int, error) {
	out := p
	for _, s := range w.secrets {
		if bytes.Contains(out, s) {
			out = bytes.ReplaceAll(out, s, []byte("REDACTED"))
		}
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if _, err := w.out.Write(out); err != nil {
		return 0, err
	}
	return len(p), nil
}

// setupLogging routes every logger through w and applies -v/--debug.
func setupLogging(w io.Writer, verbosity int, debug bool) *slog.Logger {
	fs := flag.NewFlagSet("klog", flag.ContinueOnError)
	klog.InitFlags(fs)
	_ = fs.Set("v", strconv.Itoa(verbosity))
	// Write each line once, only to w: one_output stops the copy per lower
	// severity, and a threshold above FATAL stops klog's extra raw stderr copy.
	_ = fs.Set("logtostderr", "false")
	_ = fs.Set("one_output", "true")
	_ = fs.Set("stderrthreshold", "4")
	klog.SetOutput(w)

	logrus.SetOutput(w)
	logrus.SetFormatter(&logrus.TextFormatter{DisableColors: true, FullTimestamp: true})
	level := slog.LevelInfo
	if debug {
		level = slog.LevelDebug
		logrus.SetLevel(logrus.DebugLevel)
	} else {
		logrus.SetLevel(logrus.InfoLevel)
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level}))
}
