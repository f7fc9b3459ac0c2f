// Package sonobuoy runs the upstream Kubernetes conformance suite the way a
// CNCF certification does: through sonobuoy (v0.57.3, its Go client, no
// sonobuoy binary needed), against any cluster a kubeconfig reaches, e.g. a
// user's k3s or rke2 fleet that can pull images. Run starts sonobuoy's
// aggregator and its e2e plugin (the registry.k8s.io/conformance image of the
// cluster's Kubernetes version), reports progress while the specs run,
// retrieves the results tarball and converts it into distrobench's canonical
// result tree (internal/result) with internal/upstream's converter, so a
// sonobuoy run lands in the same report as a run of e2e.test driven directly.
//
// ImportTarball does the last step alone, for a tarball retrieved earlier
// (by Run or by `sonobuoy retrieve`).
//
// Only sonobuoy's e2e plugin is run: its systemd-logs plugin needs a
// privileged DaemonSet with an image of its own and adds nothing to the
// conformance result.
package sonobuoy
