package agent

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"slices"
	"time"

	containerd "github.com/containerd/containerd/v2/client"

	"github.com/distrobench/distrobench/distro/pkg/selfimage"
)

// SelfImage is k3lite's own image, which the RKE2-style control plane's
// static pods run: Binary (the running k3lite) as the image Ref.
type SelfImage struct {
	Binary, Ref string
}

// importSelfImage streams im into containerd (selfimage.Write into
// containerd's importer, no file between them) unless it is there and
// unpacked already: a server restarted with the same binary imports
// nothing.
func importSelfImage(ctx context.Context, socket string, im SelfImage, log *slog.Logger) error {
	cl, err := containerd.New(socket, containerd.WithDefaultNamespace(criNamespace), containerd.WithTimeout(10*time.Second))
	if err != nil {
		return fmt.Errorf("connect to containerd at %s to import k3lite's own image: %w", socket, err)
	}
	defer cl.Close()
	if imagesPresent(ctx, cl, []string{im.Ref}) {
		log.Info("k3lite's own image is imported already", "image", im.Ref)
		return nil
	}
	start := time.Now()
	pr, pw := io.Pipe()
	go func() { _ = pw.CloseWithError(selfimage.Write(pw, im.Binary, im.Ref, runtime.GOARCH)) }()
	names, err := importStream(ctx, cl, pr)
	// An import that stopped early leaves the writer blocked on the pipe.
	_ = pr.CloseWithError(errors.Join(errors.New("import ended"), err))
	if err != nil {
		return fmt.Errorf("import k3lite's own image %s from %s: %w", im.Ref, im.Binary, err)
	}
	if !slices.Contains(names, im.Ref) {
		return fmt.Errorf("import k3lite's own image: containerd named it %v, want %s", names, im.Ref)
	}
	log.Info("imported k3lite's own image", "image", im.Ref, "took", time.Since(start).Round(time.Millisecond))
	return nil
}
