package agent

import (
	"github.com/distrobench/distrobench/distro/pkg/bundle"
	"github.com/distrobench/distrobench/distro/pkg/flannel"
)

// Replaceable in tests.
var (
	// extractHelpers returns the directory of runc, containerd-shim-runc-v2
	// and the CNI plugins.
	extractHelpers = bundle.Extract
	// startFlannel starts the pod network between nodes.
	startFlannel = flannel.Start
)
