// Package registry is k3lite's embedded registry mirror (K3s's
// --embedded-registry): a read-only OCI distribution endpoint that serves
// the images a node already holds in its own containerd content store, so
// that a pull of an image the node has (imagePullPolicy: Always included)
// succeeds without any registry or network.
//
// Every node runs one on 127.0.0.1 inside its own network namespace; the
// agent lists it as the first endpoint of every mirrored registry in
// containerd's hosts directory (see package agent). containerd tells a
// mirror which registry a request is for with the "ns" query parameter
// (GET /v2/e2e-test-images/busybox/manifests/1.37.0-2?ns=registry.k8s.io),
// so the image looked up is "<ns>/<name>:<tag>" in the k8s.io namespace.
//
// Only GET and HEAD of
//
//	/v2/
//	/v2/<name>/manifests/<tag or digest>
//	/v2/<name>/blobs/<digest>
//
// are served. The HTTP handler is written here by hand: no library serves
// a containerd content store read-only (go-containerregistry's registry
// keeps its manifests in memory and accepts pushes; the distribution
// project's registry needs its own storage driver), and the three routes
// are small.
package registry

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/containerd/errdefs"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Blob is readable content of the store (containerd's content.ReaderAt
// satisfies it).
type Blob interface {
	io.ReaderAt
	io.Closer
	Size() int64
}

// Store is what the mirror reads: image names and content by digest. A
// missing image or blob is an error for which errdefs.IsNotFound is true.
type Store interface {
	// Image returns the target (manifest or index) of the image named ref,
	// a full reference such as "registry.k8s.io/pause:3.10.2".
	Image(ctx context.Context, ref string) (ocispec.Descriptor, error)
	// Blob opens the content with digest dgst.
	Blob(ctx context.Context, dgst digest.Digest) (Blob, error)
	// HasRepository reports whether any image is named repo:<tag> or
	// repo@<digest> (repo such as "registry.k8s.io/pause").
	HasRepository(ctx context.Context, repo string) (bool, error)
}

// DefaultNamespace is the registry a request without the "ns" parameter
// is taken to be for (a client talking to the mirror directly, as with
// `crictl pull 127.0.0.1:PORT/library/busybox:1.37`): Docker's default.
const DefaultNamespace = "docker.io"

// maxManifestSize bounds how much of a blob is read to find a manifest's
// media type (the distribution spec's limit for manifests is 4 MiB).
const maxManifestSize = 4 << 20

// nameRE is the distribution spec's repository name grammar.
var nameRE = regexp.MustCompile(`^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*)*$`)

// tagRE is the distribution spec's tag grammar.
var tagRE = regexp.MustCompile(`^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$`)

// nsRE accepts a registry host[:port] as the "ns" parameter.
var nsRE = regexp.MustCompile(`^[a-zA-Z0-9]([a-zA-Z0-9.-]*[a-zA-Z0-9])?(:[0-9]{1,5})?$`)

// Handler serves the read-only mirror. Create it with New.
type Handler struct {
	store Store
	log   *slog.Logger
}

// New returns the mirror's HTTP handler over store.
func New(store Store, log *slog.Logger) *Handler {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Handler{store: store, log: log}
}

// Error codes of the distribution spec used here.
const (
	codeNameInvalid      = "NAME_INVALID"
	codeNameUnknown      = "NAME_UNKNOWN"
	codeManifestUnknown  = "MANIFEST_UNKNOWN"
	codeManifestInvalid  = "MANIFEST_INVALID"
	codeBlobUnknown      = "BLOB_UNKNOWN"
	codeDigestInvalid    = "DIGEST_INVALID"
	codeTagInvalid       = "TAG_INVALID"
	codeUnsupported      = "UNSUPPORTED"
	codeDenied           = "DENIED"
	headerContentDigest  = "Docker-Content-Digest"
	headerAPIVersion     = "Docker-Distribution-API-Version"
	apiVersion           = "registry/2.0"
	mediaTypeOctetStream = "application/octet-stream"
)

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set(headerAPIVersion, apiVersion)
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		writeError(w, r, http.StatusMethodNotAllowed, codeUnsupported, "this registry mirror is read-only: only GET and HEAD are served")
		return
	}
	p := r.URL.Path
	if p == "/v2" || p == "/v2/" {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", "2")
		w.WriteHeader(http.StatusOK)
		if r.Method == http.MethodGet {
			_, _ = io.WriteString(w, "{}")
		}
		return
	}
	rest, ok := strings.CutPrefix(p, "/v2/")
	if !ok {
		writeError(w, r, http.StatusNotFound, codeUnsupported, "not a registry API path: "+p)
		return
	}
	ns := r.URL.Query().Get("ns")
	if ns == "" {
		ns = DefaultNamespace
	} else if !nsRE.MatchString(ns) {
		writeError(w, r, http.StatusBadRequest, codeNameInvalid, fmt.Sprintf("ns %q is not a registry host", ns))
		return
	}
	if name, ref, ok := cutLast(rest, "/manifests/"); ok {
		h.manifest(w, r, ns, name, ref)
		return
	}
	if name, ref, ok := cutLast(rest, "/blobs/"); ok {
		h.blob(w, r, name, ref)
		return
	}
	writeError(w, r, http.StatusNotFound, codeUnsupported, "only /v2/<name>/manifests/<reference> and /v2/<name>/blobs/<digest> are served")
}

// cutLast splits s around the last sep.
func cutLast(s, sep string) (before, after string, ok bool) {
	i := strings.LastIndex(s, sep)
	if i < 0 {
		return "", "", false
	}
	return s[:i], s[i+len(sep):], true
}

func (h *Handler) manifest(w http.ResponseWriter, r *http.Request, ns, name, ref string) {
	if !nameRE.MatchString(name) {
		writeError(w, r, http.StatusBadRequest, codeNameInvalid, fmt.Sprintf("invalid repository name %q", name))
		return
	}
	ctx := r.Context()
	repo := ns + "/" + name
	var desc ocispec.Descriptor
	if strings.Contains(ref, ":") {
		dgst, err := digest.Parse(ref)
		if err != nil {
			writeError(w, r, http.StatusBadRequest, codeDigestInvalid, fmt.Sprintf("invalid digest %q: %v", ref, err))
			return
		}
		desc = ocispec.Descriptor{Digest: dgst}
	} else {
		if !tagRE.MatchString(ref) {
			writeError(w, r, http.StatusBadRequest, codeTagInvalid, fmt.Sprintf("invalid tag %q", ref))
			return
		}
		d, err := h.store.Image(ctx, repo+":"+ref)
		if err != nil {
			h.notFoundOrFail(w, r, err, repo, codeManifestUnknown, fmt.Sprintf("image %s:%s is not on this node", repo, ref))
			return
		}
		desc = d
	}
	blob, err := h.store.Blob(ctx, desc.Digest)
	if err != nil {
		h.notFoundOrFail(w, r, err, repo, codeManifestUnknown, fmt.Sprintf("manifest %s of %s is not on this node", desc.Digest, repo))
		return
	}
	defer blob.Close()
	if desc.MediaType == "" {
		// By digest: the content store keeps no media type; a manifest
		// says what it is (and anything else is no manifest).
		mt, err := sniffManifest(blob)
		if err != nil {
			writeError(w, r, http.StatusNotFound, codeManifestUnknown, fmt.Sprintf("%s is not a manifest: %v", desc.Digest, err))
			return
		}
		desc.MediaType = mt
	}
	h.log.Debug("registry mirror: manifest", "method", r.Method, "image", repo, "reference", ref, "digest", desc.Digest, "mediaType", desc.MediaType)
	serveBlob(w, r, blob, desc.Digest, desc.MediaType)
}

func (h *Handler) blob(w http.ResponseWriter, r *http.Request, name, ref string) {
	if !nameRE.MatchString(name) {
		writeError(w, r, http.StatusBadRequest, codeNameInvalid, fmt.Sprintf("invalid repository name %q", name))
		return
	}
	dgst, err := digest.Parse(ref)
	if err != nil {
		writeError(w, r, http.StatusBadRequest, codeDigestInvalid, fmt.Sprintf("invalid digest %q: %v", ref, err))
		return
	}
	blob, err := h.store.Blob(r.Context(), dgst)
	if err != nil {
		if errdefs.IsNotFound(err) {
			writeError(w, r, http.StatusNotFound, codeBlobUnknown, fmt.Sprintf("blob %s is not on this node", dgst))
			return
		}
		h.fail(w, r, err)
		return
	}
	defer blob.Close()
	h.log.Debug("registry mirror: blob", "method", r.Method, "name", name, "digest", dgst, "size", blob.Size())
	serveBlob(w, r, blob, dgst, mediaTypeOctetStream)
}

// notFoundOrFail answers 404 (NAME_UNKNOWN when no image of repo exists at
// all, else code) for a missing image, 500 for any other error.
func (h *Handler) notFoundOrFail(w http.ResponseWriter, r *http.Request, err error, repo, code, msg string) {
	if !errdefs.IsNotFound(err) {
		h.fail(w, r, err)
		return
	}
	if known, lerr := h.store.HasRepository(r.Context(), repo); lerr == nil && !known {
		code, msg = codeNameUnknown, fmt.Sprintf("repository %s is not on this node", repo)
	}
	h.log.Debug("registry mirror: not found", "method", r.Method, "path", r.URL.Path, "ns", r.URL.Query().Get("ns"), "code", code)
	writeError(w, r, http.StatusNotFound, code, msg)
}

func (h *Handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	h.log.Warn("registry mirror: store error", "method", r.Method, "path", r.URL.Path, "err", err)
	writeError(w, r, http.StatusInternalServerError, codeDenied, "the node's content store failed: "+err.Error())
}

// serveBlob writes the content with its digest and type; http.ServeContent
// sets Content-Length, answers HEAD without a body and serves Range
// requests (containerd resumes interrupted layer downloads with them).
func serveBlob(w http.ResponseWriter, r *http.Request, b Blob, dgst digest.Digest, mediaType string) {
	w.Header().Set("Content-Type", mediaType)
	w.Header().Set(headerContentDigest, dgst.String())
	w.Header().Set("Etag", `"`+dgst.String()+`"`)
	http.ServeContent(w, r, "", time.Time{}, io.NewSectionReader(b, 0, b.Size()))
}

// sniffManifest returns the media type of a manifest or index blob: its
// mediaType field, else (an OCI document may omit it) what its fields say.
func sniffManifest(b Blob) (string, error) {
	if b.Size() > maxManifestSize {
		return "", fmt.Errorf("%d bytes: larger than a manifest may be", b.Size())
	}
	data := make([]byte, b.Size())
	if _, err := b.ReadAt(data, 0); err != nil && !errors.Is(err, io.EOF) {
		return "", err
	}
	if len(bytes.TrimSpace(data)) == 0 || bytes.TrimSpace(data)[0] != '{' {
		return "", errors.New("not a JSON document")
	}
	var m struct {
		MediaType string          `json:"mediaType"`
		Manifests json.RawMessage `json:"manifests"`
		Config    json.RawMessage `json:"config"`
		Layers    json.RawMessage `json:"layers"`
	}
	if err := json.Unmarshal(data, &m); err != nil {
		return "", err
	}
	switch {
	case m.MediaType != "":
		return m.MediaType, nil
	case m.Manifests != nil:
		return ocispec.MediaTypeImageIndex, nil
	case m.Config != nil && m.Layers != nil:
		return ocispec.MediaTypeImageManifest, nil
	}
	return "", errors.New("a JSON document without mediaType, manifests or config and layers")
}

// writeError writes the distribution spec's error document.
func writeError(w http.ResponseWriter, r *http.Request, status int, code, msg string) {
	body, _ := json.Marshal(map[string]any{"errors": []map[string]string{{"code": code, "message": msg}}})
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		_, _ = w.Write(body)
	}
}
