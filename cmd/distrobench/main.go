// Command distrobench is a conformance and benchmark harness for lightweight
// Kubernetes distributions. Everything it does lives in internal/cli.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/distrobench/distrobench/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := cli.Run(ctx, os.Stdout, os.Stderr, os.Args[1:])
	stop()
	os.Exit(cli.ExitCode(err))
}
