package registry

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/containerd/containerd/v2/core/remotes/docker"
	"github.com/containerd/errdefs"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// fakeStore is an in-memory Store: images by full reference, blobs by digest.
type fakeStore struct {
	images map[string]ocispec.Descriptor
	blobs  map[digest.Digest][]byte
	err    error // returned by every call when set
}

type memBlob struct{ *bytes.Reader }

func (memBlob) Close() error { return nil }

func (s *fakeStore) Image(_ context.Context, ref string) (ocispec.Descriptor, error) {
	if s.err != nil {
		return ocispec.Descriptor{}, s.err
	}
	d, ok := s.images[ref]
	if !ok {
		return ocispec.Descriptor{}, fmt.Errorf("image %q: %w", ref, errdefs.ErrNotFound)
	}
	return d, nil
}

func (s *fakeStore) Blob(_ context.Context, dgst digest.Digest) (Blob, error) {
	if s.err != nil {
		return nil, s.err
	}
	b, ok := s.blobs[dgst]
	if !ok {
		return nil, fmt.Errorf("content %s: %w", dgst, errdefs.ErrNotFound)
	}
	return memBlob{bytes.NewReader(b)}, nil
}

func (s *fakeStore) HasRepository(_ context.Context, repo string) (bool, error) {
	for ref := range s.images {
		if strings.HasPrefix(ref, repo+":") {
			return true, nil
		}
	}
	return false, nil
}

func (s *fakeStore) add(b []byte) digest.Digest {
	d := digest.FromBytes(b)
	s.blobs[d] = b
	return d
}

// testImage is a one-layer image stored as an index -> manifest -> config
// + layer, named registry.k8s.io/e2e-test-images/busybox:1.37.0-2.
type testImage struct {
	store                          *fakeStore
	index, manifest, config, layer digest.Digest
	indexJSON, manifestJSON        []byte
	layerData                      []byte
}

func newTestImage(t *testing.T) *testImage {
	t.Helper()
	s := &fakeStore{images: map[string]ocispec.Descriptor{}, blobs: map[digest.Digest][]byte{}}
	ti := &testImage{store: s, layerData: bytes.Repeat([]byte("layer-bytes-"), 1000)}
	ti.layer = s.add(ti.layerData)
	cfg := []byte(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":["` + ti.layer.String() + `"]}}`)
	ti.config = s.add(cfg)
	// An OCI manifest without mediaType (allowed by the spec): served by
	// digest, its type comes from its fields.
	m, err := json.Marshal(map[string]any{
		"schemaVersion": 2,
		"config":        ocispec.Descriptor{MediaType: ocispec.MediaTypeImageConfig, Digest: ti.config, Size: int64(len(cfg))},
		"layers":        []ocispec.Descriptor{{MediaType: ocispec.MediaTypeImageLayer, Digest: ti.layer, Size: int64(len(ti.layerData))}},
	})
	if err != nil {
		t.Fatal(err)
	}
	ti.manifestJSON = m
	ti.manifest = s.add(m)
	idx, err := json.Marshal(ocispec.Index{
		MediaType: ocispec.MediaTypeImageIndex,
		Manifests: []ocispec.Descriptor{{
			MediaType: ocispec.MediaTypeImageManifest, Digest: ti.manifest, Size: int64(len(m)),
			Platform: &ocispec.Platform{Architecture: "amd64", OS: "linux"},
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	// json.Marshal of ocispec.Index omits schemaVersion's struct (Versioned
	// is embedded): fine for these tests.
	ti.indexJSON = idx
	ti.index = s.add(idx)
	s.images["registry.k8s.io/e2e-test-images/busybox:1.37.0-2"] = ocispec.Descriptor{
		MediaType: ocispec.MediaTypeImageIndex, Digest: ti.index, Size: int64(len(idx)),
	}
	return ti
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func do(t *testing.T, h http.Handler, method, target string, hdr ...string) response {
	t.Helper()
	req := httptest.NewRequest(method, target, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	res := rec.Result()
	body, _ := io.ReadAll(res.Body)
	return response{status: res.StatusCode, header: res.Header, body: body}
}

func errorCode(t *testing.T, body []byte) string {
	t.Helper()
	var doc struct {
		Errors []struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"errors"`
	}
	if err := json.Unmarshal(body, &doc); err != nil || len(doc.Errors) != 1 {
		t.Fatalf("error body %q: want one OCI error (%v)", body, err)
	}
	if doc.Errors[0].Message == "" {
		t.Errorf("error %s has no message", doc.Errors[0].Code)
	}
	return doc.Errors[0].Code
}

func TestBase(t *testing.T) {
	h := New(newTestImage(t).store, nil)
	for _, p := range []string{"/v2/", "/v2"} {
		r := do(t, h, http.MethodGet, p)
		if r.status != http.StatusOK || string(r.body) != "{}" || r.header.Get(headerAPIVersion) != "registry/2.0" {
			t.Errorf("GET %s = %d %q %v; want 200 {} with the API version header", p, r.status, r.body, r.header)
		}
	}
}

func TestManifestByTag(t *testing.T) {
	ti := newTestImage(t)
	h := New(ti.store, nil)
	target := "/v2/e2e-test-images/busybox/manifests/1.37.0-2?ns=registry.k8s.io"
	get := do(t, h, http.MethodGet, target)
	if get.status != http.StatusOK {
		t.Fatalf("GET = %d %s", get.status, get.body)
	}
	if !bytes.Equal(get.body, ti.indexJSON) {
		t.Errorf("body is not the stored index")
	}
	if got := get.header.Get("Content-Type"); got != ocispec.MediaTypeImageIndex {
		t.Errorf("Content-Type %q, want %q", got, ocispec.MediaTypeImageIndex)
	}
	if got := get.header.Get(headerContentDigest); got != ti.index.String() {
		t.Errorf("Docker-Content-Digest %q, want %s", got, ti.index)
	}
	if got := get.header.Get("Content-Length"); got != fmt.Sprint(len(ti.indexJSON)) {
		t.Errorf("Content-Length %q, want %d", got, len(ti.indexJSON))
	}
	head := do(t, h, http.MethodHead, target)
	if head.status != http.StatusOK || len(head.body) != 0 ||
		head.header.Get(headerContentDigest) != ti.index.String() || head.header.Get("Content-Length") != fmt.Sprint(len(ti.indexJSON)) {
		t.Errorf("HEAD = %d, %d body bytes, headers %v; want 200, no body, digest and length", head.status, len(head.body), head.header)
	}
}

func TestManifestByDigestSniffsType(t *testing.T) {
	ti := newTestImage(t)
	h := New(ti.store, nil)
	r := do(t, h, http.MethodGet, "/v2/e2e-test-images/busybox/manifests/"+ti.manifest.String()+"?ns=registry.k8s.io")
	if r.status != http.StatusOK || !bytes.Equal(r.body, ti.manifestJSON) {
		t.Fatalf("GET manifest by digest = %d %s", r.status, r.body)
	}
	if got := r.header.Get("Content-Type"); got != ocispec.MediaTypeImageManifest {
		t.Errorf("Content-Type %q, want %q (from the manifest's fields)", got, ocispec.MediaTypeImageManifest)
	}
	r = do(t, h, http.MethodGet, "/v2/e2e-test-images/busybox/manifests/"+ti.index.String())
	if got := r.header.Get("Content-Type"); r.status != http.StatusOK || got != ocispec.MediaTypeImageIndex {
		t.Errorf("GET index by digest = %d, Content-Type %q; want 200 %s", r.status, got, ocispec.MediaTypeImageIndex)
	}
	// A layer is no manifest.
	r = do(t, h, http.MethodGet, "/v2/e2e-test-images/busybox/manifests/"+ti.layer.String())
	if r.status != http.StatusNotFound || errorCode(t, r.body) != codeManifestUnknown {
		t.Errorf("GET layer as manifest = %d %s, want 404 MANIFEST_UNKNOWN", r.status, r.body)
	}
}

func TestBlob(t *testing.T) {
	ti := newTestImage(t)
	h := New(ti.store, nil)
	target := "/v2/e2e-test-images/busybox/blobs/" + ti.layer.String() + "?ns=registry.k8s.io"
	r := do(t, h, http.MethodGet, target)
	if r.status != http.StatusOK || !bytes.Equal(r.body, ti.layerData) {
		t.Fatalf("GET blob = %d, %d bytes", r.status, len(r.body))
	}
	if r.header.Get(headerContentDigest) != ti.layer.String() || r.header.Get("Content-Type") != mediaTypeOctetStream ||
		r.header.Get("Content-Length") != fmt.Sprint(len(ti.layerData)) {
		t.Errorf("blob headers %v", r.header)
	}
	// Resuming: a Range request gets the rest.
	r = do(t, h, http.MethodGet, target, "Range", "bytes=100-")
	if r.status != http.StatusPartialContent || !bytes.Equal(r.body, ti.layerData[100:]) {
		t.Errorf("GET blob with Range = %d, %d bytes; want 206 with the rest", r.status, len(r.body))
	}
	head := do(t, h, http.MethodHead, target)
	if head.status != http.StatusOK || len(head.body) != 0 || head.header.Get("Content-Length") != fmt.Sprint(len(ti.layerData)) {
		t.Errorf("HEAD blob = %d %v", head.status, head.header)
	}
}

func TestNotFoundAndInvalid(t *testing.T) {
	ti := newTestImage(t)
	h := New(ti.store, nil)
	missing := digest.FromString("missing")
	cases := []struct {
		name, method, target string
		status               int
		code                 string
	}{
		{"unknown repository", http.MethodGet, "/v2/e2e-test-images/nginx/manifests/1.27.0?ns=registry.k8s.io", 404, codeNameUnknown},
		{"unknown tag", http.MethodGet, "/v2/e2e-test-images/busybox/manifests/9.9?ns=registry.k8s.io", 404, codeManifestUnknown},
		{"other registry", http.MethodGet, "/v2/e2e-test-images/busybox/manifests/1.37.0-2?ns=docker.io", 404, codeNameUnknown},
		{"no ns is docker.io", http.MethodGet, "/v2/e2e-test-images/busybox/manifests/1.37.0-2", 404, codeNameUnknown},
		{"unknown manifest digest", http.MethodGet, "/v2/e2e-test-images/busybox/manifests/" + missing.String() + "?ns=registry.k8s.io", 404, codeManifestUnknown},
		{"unknown blob", http.MethodGet, "/v2/e2e-test-images/busybox/blobs/" + missing.String(), 404, codeBlobUnknown},
		{"bad digest", http.MethodGet, "/v2/e2e-test-images/busybox/blobs/sha256:nothex", 400, codeDigestInvalid},
		{"bad name", http.MethodGet, "/v2/E2E/Busybox/manifests/1", 400, codeNameInvalid},
		{"bad ns", http.MethodGet, "/v2/busybox/manifests/1?ns=a/b", 400, codeNameInvalid},
		{"bad tag", http.MethodGet, "/v2/busybox/manifests/-x", 400, codeTagInvalid},
		{"other path", http.MethodGet, "/v2/_catalog", 404, codeUnsupported},
		{"not the API", http.MethodGet, "/", 404, codeUnsupported},
		{"push", http.MethodPut, "/v2/e2e-test-images/busybox/manifests/1.37.0-2", 405, codeUnsupported},
		{"upload", http.MethodPost, "/v2/e2e-test-images/busybox/blobs/uploads/", 405, codeUnsupported},
		{"delete", http.MethodDelete, "/v2/e2e-test-images/busybox/blobs/" + ti.layer.String(), 405, codeUnsupported},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := do(t, h, tc.method, tc.target)
			if r.status != tc.status {
				t.Fatalf("%s %s = %d %s, want %d", tc.method, tc.target, r.status, r.body, tc.status)
			}
			if ct := r.header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("error Content-Type %q", ct)
			}
			if got := errorCode(t, r.body); got != tc.code {
				t.Errorf("code %s, want %s", got, tc.code)
			}
		})
	}
	// A HEAD gets the status without a body.
	r := do(t, h, http.MethodHead, "/v2/e2e-test-images/busybox/manifests/9.9?ns=registry.k8s.io")
	if r.status != 404 || len(r.body) != 0 {
		t.Errorf("HEAD unknown tag = %d with %d body bytes, want 404 without body", r.status, len(r.body))
	}
}

func TestStoreFailureIs500(t *testing.T) {
	s := newTestImage(t).store
	s.err = errors.New("connection refused")
	r := do(t, New(s, nil), http.MethodGet, "/v2/e2e-test-images/busybox/manifests/1.37.0-2?ns=registry.k8s.io")
	if r.status != http.StatusInternalServerError || !strings.Contains(string(r.body), "connection refused") {
		t.Errorf("store failure = %d %s, want 500 with the cause", r.status, r.body)
	}
}

// TestContainerdResolverPullsThroughMirror drives the mirror with
// containerd's own registry client, configured as the agent configures
// containerd: the mirror is a host of registry.k8s.io, so the requests
// carry ns=registry.k8s.io. Resolve and fetch must give back the stored
// index and manifest.
func TestContainerdResolverPullsThroughMirror(t *testing.T) {
	ti := newTestImage(t)
	var seen []string
	h := New(ti.store, nil)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = append(seen, r.Method+" "+r.URL.String())
		h.ServeHTTP(w, r)
	}))
	defer srv.Close()
	u, _ := url.Parse(srv.URL)
	resolver := docker.NewResolver(docker.ResolverOptions{
		Hosts: func(host string) ([]docker.RegistryHost, error) {
			return []docker.RegistryHost{{
				Client: srv.Client(), Host: u.Host, Scheme: "http", Path: "/v2",
				Capabilities: docker.HostCapabilityPull | docker.HostCapabilityResolve,
			}}, nil
		},
	})
	ctx := context.Background()
	name, desc, err := resolver.Resolve(ctx, "registry.k8s.io/e2e-test-images/busybox:1.37.0-2")
	if err != nil {
		t.Fatalf("Resolve: %v (requests: %q)", err, seen)
	}
	if desc.Digest != ti.index || desc.MediaType != ocispec.MediaTypeImageIndex || desc.Size != int64(len(ti.indexJSON)) {
		t.Errorf("Resolve %s = %+v, want the index %s", name, desc, ti.index)
	}
	f, err := resolver.Fetcher(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	rc, err := f.Fetch(ctx, ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, Digest: ti.manifest, Size: int64(len(ti.manifestJSON))})
	if err != nil {
		t.Fatalf("Fetch manifest: %v (requests: %q)", err, seen)
	}
	got, _ := io.ReadAll(rc)
	rc.Close()
	if !bytes.Equal(got, ti.manifestJSON) {
		t.Errorf("fetched manifest differs")
	}
	for _, s := range seen {
		if !strings.Contains(s, "ns=registry.k8s.io") {
			t.Errorf("request %q has no ns=registry.k8s.io", s)
		}
	}
	if _, _, err := resolver.Resolve(ctx, "registry.k8s.io/e2e-test-images/busybox:0.0"); !errdefs.IsNotFound(err) {
		t.Errorf("Resolve of a missing tag: %v, want not found", err)
	}
}
