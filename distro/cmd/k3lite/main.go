// Command k3lite is a K3s-style Kubernetes distribution in one binary.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/distrobench/distrobench/distro/pkg/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	go func() {
		// After the first signal, a second one kills the process at once.
		<-ctx.Done()
		stop()
	}()
	code := cli.Main(ctx, os.Stdout, os.Stderr, os.Args)
	stop()
	os.Exit(code)
}
