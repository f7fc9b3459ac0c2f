package cli

import (
	"strings"
	"testing"
)

func TestConformanceSonobuoyRunnerFlags(t *testing.T) {
	cases := map[string][]string{
		`--runner "bogus"`:                    {"--runner", "bogus"},
		"does not apply to --runner sonobuoy": {"--runner", "sonobuoy", "--procs", "3"},
		"is not a sonobuoy mode":              {"--runner", "sonobuoy", "--mode", "core"},
		"--image-pull-policy":                 {"--runner", "sonobuoy", "--image-pull-policy", "Sometimes"},
		"add --runner sonobuoy":               {"--upstream", "--sonobuoy-image", "x/y:1"},
	}
	for want, args := range cases {
		_, _, err := run(t, append([]string{"conformance", "--kubeconfig", "/nonexistent"}, args...)...)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%v: %v, want an error containing %q", args, err, want)
		}
	}
}
