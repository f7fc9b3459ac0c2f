package server

import (
	"log/slog"
	"sync"
	"sync/atomic"

	"k8s.io/klog/v2"
)

// Upstream components end the process through klog (klog.Fatal and
// FlushAndExit call klog.OsExit). While k3lite runs, that stays so: a
// component that cannot go on takes the process down, as it would alone.
// Once a shutdown has begun, such an exit is a consequence of the shutdown
// itself: the controller-manager still building its controllers when the
// apiserver stops gets "connection refused" and exits 255 (ClientOrDie),
// which made a SIGTERM right after start-up exit 255 instead of 0. From then
// on the exit is logged and the calling goroutine parked; the shutdown
// sequence, bounded at 10 s, decides the exit code.
var (
	guardOnce sync.Once
	// stopping holds the logger of the shutdown in progress, nil before.
	stopping atomic.Pointer[slog.Logger]
)

// guardComponentExits routes klog's exits through componentExit. It is
// installed once per process, before any component runs.
func guardComponentExits() {
	guardOnce.Do(func() {
		exit := klog.OsExit
		klog.OsExit = func(code int) { componentExit(code, exit, parkForever) }
	})
}

// beginShutdown marks the process as stopping: from now on a component's
// exit is held (see componentExit).
func beginShutdown(log *slog.Logger) { stopping.Store(log) }

// componentExit exits with code, unless a shutdown is in progress: then it
// logs the exit and parks the caller.
func componentExit(code int, exit func(int), park func()) {
	log := stopping.Load()
	if log == nil {
		exit(code)
		return
	}
	log.Warn("a component exited during shutdown; the shutdown goes on and decides the exit code", "code", code)
	park()
}

func parkForever() { select {} }
