package registry

import (
	"context"
	"strings"

	containerd "github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/pkg/namespaces"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Namespace is the containerd namespace whose images are served: the CRI
// plugin's, where the kubelet's images and the imported tarballs live.
const Namespace = "k8s.io"

// ContainerdStore is the Store of a containerd: its image store and content
// store in Namespace, through the client (read-only use only).
type ContainerdStore struct {
	Client *containerd.Client
}

var _ Store = ContainerdStore{}

func (s ContainerdStore) ctx(ctx context.Context) context.Context {
	return namespaces.WithNamespace(ctx, Namespace)
}

// Image implements Store.
func (s ContainerdStore) Image(ctx context.Context, ref string) (ocispec.Descriptor, error) {
	img, err := s.Client.ImageService().Get(s.ctx(ctx), ref)
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	return img.Target, nil
}

// Blob implements Store.
func (s ContainerdStore) Blob(ctx context.Context, dgst digest.Digest) (Blob, error) {
	return s.Client.ContentStore().ReaderAt(s.ctx(ctx), ocispec.Descriptor{Digest: dgst})
}

// HasRepository implements Store.
func (s ContainerdStore) HasRepository(ctx context.Context, repo string) (bool, error) {
	imgs, err := s.Client.ImageService().List(s.ctx(ctx))
	if err != nil {
		return false, err
	}
	for _, img := range imgs {
		if rest, ok := strings.CutPrefix(img.Name, repo); ok && (strings.HasPrefix(rest, ":") || strings.HasPrefix(rest, "@")) {
			return true, nil
		}
	}
	return false, nil
}
