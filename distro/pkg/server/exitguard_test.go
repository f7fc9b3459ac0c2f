package server

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"testing"

	"k8s.io/klog/v2"
)

const exitGuardChildEnv = "K3LITE_EXIT_GUARD_CHILD"

// TestComponentExitDuringShutdown runs klog.Fatal, as the controller-manager's
// ClientOrDie does, in a child process: before a shutdown it ends the process
// with klog's code 255; once the shutdown has begun it is held, logged, and
// the process ends with the shutdown's own code (0 here).
func TestComponentExitDuringShutdown(t *testing.T) {
	if mode := os.Getenv(exitGuardChildEnv); mode != "" {
		exitGuardChild(mode == "stopping")
	}
	for _, tc := range []struct {
		mode     string
		wantCode int
		wantLog  string
	}{
		{mode: "running", wantCode: 255, wantLog: "connection refused"},
		{mode: "stopping", wantCode: 0, wantLog: "a component exited during shutdown"},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^TestComponentExitDuringShutdown$")
			cmd.Env = append(os.Environ(), exitGuardChildEnv+"="+tc.mode)
			out, err := cmd.CombinedOutput()
			code := 0
			var exitErr *exec.ExitError
			if errors.As(err, &exitErr) {
				code = exitErr.ExitCode()
			} else if err != nil {
				t.Fatalf("running the child: %v", err)
			}
			if code != tc.wantCode {
				t.Errorf("exit code %d, want %d; output:\n%s", code, tc.wantCode, out)
			}
			if !strings.Contains(string(out), tc.wantLog) {
				t.Errorf("output lacks %q:\n%s", tc.wantLog, out)
			}
		})
	}
}

// exitGuardChild calls klog.Fatal from a component's goroutine and exits 0
// once the guard reports the exit held; without a held exit klog ends the
// process first.
func exitGuardChild(stoppingNow bool) {
	held := make(chan struct{})
	log := slog.New(&signalHandler{Handler: slog.NewTextHandler(os.Stderr, nil), warned: held})
	guardComponentExits()
	if stoppingNow {
		beginShutdown(log)
	}
	go klog.Fatal("Post \"https://127.0.0.1:6443/api/v1/namespaces/kube-system/serviceaccounts\": connection refused")
	<-held
	os.Exit(0)
}

// signalHandler closes warned on its first warning.
type signalHandler struct {
	slog.Handler
	warned chan struct{}
}

func (h *signalHandler) Handle(ctx context.Context, r slog.Record) error {
	err := h.Handler.Handle(ctx, r)
	if r.Level == slog.LevelWarn {
		close(h.warned)
	}
	return err
}
