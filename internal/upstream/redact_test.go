package upstream

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestPassOutputsAreRedacted: a pass whose ginkgo prints a datastore
// endpoint and a join token, and whose JUnit report carries them in a
// failure, leaves e2e.log and junit_01.xml (next to the report) with the
// secrets masked, as the report itself is.
func TestPassOutputsAreRedacted(t *testing.T) {
	const password, token = "hunter2raw", "K10" + "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef" + "::server:tok3nsecret"
	dir := t.TempDir()
	ginkgo := filepath.Join(dir, "fake-ginkgo")
	junit := `<?xml version="1.0" encoding="UTF-8"?>
<testsuites tests="1" failures="1"><testsuite name="Kubernetes e2e suite" tests="1" failures="1">
<testcase name="[It] [sig-x] leaks [Conformance]" classname="Kubernetes e2e suite" status="failed" time="1">
<failure type="failed">dial postgres://kine:` + password + `@10.0.0.1:5432/kine failed; token ` + token + `</failure>
</testcase></testsuite></testsuites>`
	script := `#!/bin/sh
for a; do case "$a" in --report-dir=*) d="${a#--report-dir=}";; esac; done
echo "connecting to mysql://kine:` + password + `@tcp(10.0.0.1:3306)/kine with ` + token + `"
cat > "$d/junit_01.xml" <<'XML'
` + junit + `
XML
`
	if err := os.WriteFile(ginkgo, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	o := Options{Ginkgo: ginkgo, OutDir: dir, Kubeconfig: "/dev/null", Log: slog.New(slog.DiscardHandler)}
	pr := &passRun{pass: pass{Name: "parallel"}, dir: filepath.Join(dir, "parallel"), selected: []string{"[sig-x] leaks [Conformance]"}}
	if err := runPass(context.Background(), o, pr, "e2e.test", "", 5*time.Minute); err != nil {
		t.Fatalf("runPass: %v", err)
	}
	for _, name := range []string{"e2e.log", "junit_01.xml"} {
		b, err := os.ReadFile(filepath.Join(pr.dir, name))
		if err != nil {
			t.Fatalf("the pass left no %s: %v", name, err)
		}
		if strings.Contains(string(b), password) || strings.Contains(string(b), "tok3nsecret") {
			t.Errorf("%s keeps a secret:\n%s", name, b)
		}
		if !strings.Contains(string(b), "REDACTED") {
			t.Errorf("%s was not redacted (or lost its text):\n%s", name, b)
		}
	}
	if leaf := pr.results["[sig-x] leaks [Conformance]"]; !strings.Contains(leaf.Message, "kine:REDACTED@") {
		t.Errorf("the spec's failure reads %q; want it from the redacted JUnit", leaf.Message)
	}
}
