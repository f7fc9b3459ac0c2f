package upstream

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"slices"
	"strings"
)

// NotBuilt are the images `e2e.test --list-images` (Kubernetes v1.37.2)
// names that distrobench does not build, each with why: no [Conformance]
// spec uses them (checked by grepping the images of every file holding a
// framework.ConformanceIt in test/e2e at that version). A Kubernetes bump
// that adds an image shows up as unclassified in CoverImages (and fails the
// integration test) instead of silently missing from the nodes.
var NotBuilt = map[string]string{
	"registry.k8s.io/e2e-test-images/busybox:1.36.1-1":                                 "previous busybox, only non-conformance node specs",
	"registry.k8s.io/e2e-test-images/nginx:1.28.0-2":                                   "nginx-new, only non-conformance apps/network specs",
	"registry.k8s.io/e2e-test-images/nonroot:1.5":                                      "only non-conformance security-context specs",
	"registry.k8s.io/e2e-test-images/resource-consumer:1.14":                           "autoscaling specs (not [Conformance])",
	"registry.k8s.io/e2e-test-images/sample-device-plugin:1.7":                         "device-plugin node e2e (not [Conformance])",
	"registry.k8s.io/e2e-test-images/node-perf/npb-ep:1.6.0":                           "node performance e2e (not [Conformance])",
	"registry.k8s.io/e2e-test-images/node-perf/npb-is:1.7.0":                           "node performance e2e (not [Conformance])",
	"registry.k8s.io/e2e-test-images/node-perf/pytorch-wide-deep:1.0.0":                "node performance e2e (not [Conformance])",
	"registry.k8s.io/e2e-test-images/regression-issue-74839:1.5":                       "a network regression spec (not [Conformance])",
	"registry.k8s.io/e2e-test-images/ipc-utils:1.4":                                    "host IPC specs (not [Conformance])",
	"registry.k8s.io/e2e-test-images/apparmor-loader:1.4":                              "AppArmor specs (not [Conformance])",
	"registry.k8s.io/e2e-test-images/perl:5.26":                                        "only non-conformance specs",
	"registry.k8s.io/e2e-test-images/volume/iscsi:2.7":                                 "in-tree volume drivers (storage, not [Conformance])",
	"registry.k8s.io/e2e-test-images/volume/nfs:1.6.0":                                 "in-tree volume drivers (storage, not [Conformance])",
	"registry.k8s.io/build-image/distroless-iptables:v0.9.9":                           "kube-proxy/network specs that are not [Conformance]",
	"gcr.io/k8s-authenticated-test/agnhost:2.6":                                        "private-registry pull specs (need credentials for gcr.io; not [Conformance])",
	"invalid.registry.k8s.io/invalid/alpine:3.1":                                       "must fail to pull by design (not [Conformance])",
	"registry.k8s.io/cloud-provider-gcp/gcp-compute-persistent-disk-csi-driver:v1.4.0": "GCE PD CSI driver (cloud storage, not [Conformance])",
	"registry.k8s.io/sig-storage/nfs-provisioner:v4.0.8":                               "storage provisioner specs (not [Conformance])",
	"registry.k8s.io/sig-storage/hostpathplugin:v1.17.1":                               "CSI hostpath driver specs (storage, not [Conformance])",
	"registry.k8s.io/sig-storage/csi-attacher:v4.12.0":                                 "CSI driver sidecar (storage, not [Conformance])",
	"registry.k8s.io/sig-storage/csi-external-health-monitor-controller:v0.18.0":       "CSI driver sidecar (storage, not [Conformance])",
	"registry.k8s.io/sig-storage/csi-node-driver-registrar:v2.17.0":                    "CSI driver sidecar (storage, not [Conformance])",
	"registry.k8s.io/sig-storage/csi-provisioner:v6.3.0":                               "CSI driver sidecar (storage, not [Conformance])",
	"registry.k8s.io/sig-storage/csi-resizer:v2.2.0":                                   "CSI driver sidecar (storage, not [Conformance])",
	"registry.k8s.io/sig-storage/csi-snapshotter:v8.6.0":                               "CSI driver sidecar (storage, not [Conformance])",
	"registry.k8s.io/sig-storage/csi-snapshot-metadata:v1.0.0":                         "CSI driver sidecar (storage, not [Conformance])",
	"registry.k8s.io/sig-storage/livenessprobe:v2.19.0":                                "CSI driver sidecar (storage, not [Conformance])",
	"registry.k8s.io/sig-storage/hello-populator:v1.0.1":                               "volume populator specs (storage, not [Conformance])",
	"registry.k8s.io/sig-storage/volume-data-source-validator:v1.0.0":                  "volume populator specs (storage, not [Conformance])",
}

// ListImages returns the images e2e.test says its specs use
// (`e2e.test --list-images`), sorted.
func ListImages(ctx context.Context, e2eTest string) ([]string, error) {
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, e2eTest, "--list-images")
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("%s --list-images: %w: %s", e2eTest, err, strings.TrimSpace(stderr.String()))
	}
	var imgs []string
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		if l := strings.TrimSpace(sc.Text()); l != "" {
			imgs = append(imgs, l)
		}
	}
	slices.Sort(imgs)
	return slices.Compact(imgs), nil
}

// ImageCoverage sorts the images the suite lists into those distrobench
// builds, those it deliberately does not (NotBuilt, with the reason) and
// unclassified ones: an image a newer suite needs that nobody looked at.
type ImageCoverage struct {
	Built        []string
	NotBuilt     []string // keys of NotBuilt present in the list
	Unclassified []string
}

// CoverImages classifies listed against the names of the images the
// catalog builds.
func CoverImages(listed, catalog []string) ImageCoverage {
	var c ImageCoverage
	for _, img := range listed {
		switch {
		case slices.Contains(catalog, img):
			c.Built = append(c.Built, img)
		case NotBuilt[img] != "":
			c.NotBuilt = append(c.NotBuilt, img)
		default:
			c.Unclassified = append(c.Unclassified, img)
		}
	}
	return c
}
