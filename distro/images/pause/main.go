// Command pause is k3lite's sandbox ("pause") container: the process that
// holds a pod's namespaces open. Like Kubernetes's build/pause it sleeps until
// SIGINT or SIGTERM and then exits 0, and as the PID 1 of the pod's PID
// namespace (shareProcessNamespace) it reaps every orphaned child that is
// re-parented to it, so zombies do not pile up.
//
// It is ours, not upstream's pause.c, so it builds with the Go toolchain
// alone (CGO off, static) for every arch k3lite supports:
//
//	CGO_ENABLED=0 go build -trimpath -ldflags '-s -w' ./images/pause
package main

import (
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

// version is printed by -v, like upstream pause's.
const version = "3.10.2-k3lite"

func main() {
	if len(os.Args) > 1 && os.Args[1] == "-v" {
		fmt.Printf("pause.go %s\n", version)
		return
	}
	if os.Getpid() != 1 {
		fmt.Fprintln(os.Stderr, "Warning: pause should be the first process")
	}
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGCHLD)
	for sig := range sigs {
		if sig == syscall.SIGCHLD {
			reap()
			continue
		}
		fmt.Fprintf(os.Stderr, "Shutting down, got signal: %s\n", sig)
		os.Exit(0)
	}
}

// reap collects every exited child without blocking. Signals coalesce, so
// one SIGCHLD may stand for several exits: loop until none is left.
func reap() {
	for {
		var ws syscall.WaitStatus
		pid, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, nil)
		if err == syscall.EINTR {
			continue
		}
		if pid <= 0 || err != nil {
			return
		}
	}
}
