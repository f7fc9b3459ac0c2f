package cli

import (
	"strings"
	"testing"
)

// TestPrometheusFlagsRejectedBeforeAnythingStarts: the measuring commands
// check --prometheus-url and --prometheus-selector before they build or
// start anything, and never echo the URL's password.
func TestPrometheusFlagsRejectedBeforeAnythingStarts(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"bench", "--prometheus-selector", `job="x"`}, "give that too"},
		{[]string{"bench", "--prometheus-url", "u:hunter2@prom:9090"}, "http(s)://"},
		{[]string{"run", "--prometheus-url", "http://prom:9090", "--prometheus-selector", "apiserver"}, "label matchers"},
		{[]string{"compare", "--prometheus-url", "ftp://prom", "../../profiles/matrix/datastores.yaml"}, "http(s)://"},
	} {
		_, _, err := run(t, c.args...)
		if err == nil || !strings.Contains(err.Error(), c.want) || ExitCode(err) != 2 {
			t.Errorf("%v: error %v (exit %d), want bad input saying %q", c.args, err, ExitCode(err), c.want)
		}
		if err != nil && strings.Contains(err.Error(), "hunter2") {
			t.Errorf("%v: error %v shows the password", c.args, err)
		}
	}
}
