package config

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestFlatten(t *testing.T) {
	in := `# k3lite config
write-kubeconfig-mode: "0644"
https-listen-port: 6443
cluster-cidr: 10.42.0.0/16
disable-agent: true
secrets-encryption: False
kubelet-arg: ["max-pods=50", "v=2"]
tls-san:
  - lb.example
  - 10.0.0.5
empty-list: []
node-label+:
  - role=edge
node-taint+: a=b:NoSchedule
quoted: "has spaces and = sign"
ratio: 1.5
mode-octal: 0644
--dashed: ok
anchor: &a shared
alias: *a
`
	got, err := Flatten([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"--write-kubeconfig-mode=0644",
		"--https-listen-port=6443",
		"--cluster-cidr=10.42.0.0/16",
		"--disable-agent=true",
		"--secrets-encryption=false",
		"--kubelet-arg=max-pods=50",
		"--kubelet-arg=v=2",
		"--tls-san=lb.example",
		"--tls-san=10.0.0.5",
		"--node-label=role=edge",
		"--node-taint=a=b:NoSchedule",
		"--quoted=has spaces and = sign",
		"--ratio=1.5",
		"--mode-octal=0644",
		"--dashed=ok",
		"--anchor=shared",
		"--alias=shared",
	}
	if !slices.Equal(got, want) {
		t.Errorf("Flatten =\n%q\nwant\n%q", got, want)
	}
}

func TestFlattenEmpty(t *testing.T) {
	for _, in := range []string{"", "\n", "# only a comment\n", "---\n", "~\n"} {
		got, err := Flatten([]byte(in))
		if err != nil || len(got) != 0 {
			t.Errorf("Flatten(%q) = %q, %v; want nothing", in, got, err)
		}
	}
}

func TestFlattenErrors(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     []string
	}{
		{"nested map", "a: 1\nkubelet:\n  max-pods: 5\n", []string{`"kubelet"`, "nested maps", "line 3"}},
		{"list of maps", "tls-san:\n  - a: b\n", []string{`"tls-san"`, "line 2", "a map"}},
		{"list of lists", "tls-san:\n  - [a]\n", []string{`"tls-san"`, "a list"}},
		{"null", "a: 1\ntoken:\n", []string{`"token"`, "no value", "line 2"}},
		{"null in list", "tls-san:\n  - ~\n", []string{`"tls-san"`, "no value"}},
		{"duplicate", "a: 1\nb: 2\na: 3\n", []string{`"a"`, "line 3", "line 1"}},
		{"invalid yaml", "a: 1\nb: [unclosed\n", []string{"invalid YAML", "line"}},
		{"bad indentation", "a: 1\n  b: 2\n", []string{"invalid YAML", "line 2"}},
		{"not a map", "- a\n- b\n", []string{"mapping", "a list", "line 1"}},
		{"scalar doc", "s3cr3t-token\n", []string{"mapping", "single value"}},
		{"map key", "? [a]\n: b\n", []string{"flag names"}},
		{"bad name", "\"a b\": c\n", []string{"not a flag name"}},
		{"only plus", "\"+\": c\n", []string{"not a flag name"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Flatten([]byte(tc.in))
			if err == nil {
				t.Fatalf("Flatten(%q) succeeded", tc.in)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "s3cr3t") {
				t.Errorf("error echoes a value: %v", err)
			}
		})
	}
}

func TestLoadFile(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(good, []byte("token: abc\ntls-san: [x]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := LoadFile(good)
	if err != nil || !slices.Equal(got, []string{"--token=abc", "--tls-san=x"}) {
		t.Errorf("LoadFile = %q, %v", got, err)
	}

	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("a:\n  b: c\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadFile(bad); err == nil || !strings.Contains(err.Error(), bad) || !strings.Contains(err.Error(), `"a"`) {
		t.Errorf("LoadFile(bad) error = %v, want it to name the file and key", err)
	}

	missing := filepath.Join(dir, "missing.yaml")
	_, err = LoadFile(missing)
	if err == nil || !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), missing) {
		t.Errorf("LoadFile(missing) error = %v, want fs.ErrNotExist naming the file", err)
	}
}

func TestMergeArgs(t *testing.T) {
	listFlags := map[string]bool{"tls-san": true, "node-label": true, "kubelet-arg": true}
	isList := func(n string) bool { return listFlags[n] }

	file := []string{
		"--token=from-file",
		"--tls-san=file.example",
		"--node-label=a=1",
		"--write-kubeconfig-mode=0644",
		"--disable-agent=true",
		"--cluster-init=true",
		"--kube-apiserver-arg=x=1", // a list in the file (twice), unknown to isList
		"--kube-apiserver-arg=y=2",
		"--data-dir=/file",
	}
	cli := []string{
		"--token", "from-cli",
		"--tls-san=cli.example",
		"--disable-agent",
		"--kube-apiserver-arg=z=3",
		"-data-dir=/cli",
		"--", "--cluster-init=false",
	}
	got := MergeArgs(file, cli, isList)
	want := []string{
		"--tls-san=file.example",
		"--node-label=a=1",
		"--write-kubeconfig-mode=0644",
		"--cluster-init=true",
		"--kube-apiserver-arg=x=1",
		"--kube-apiserver-arg=y=2",
		"--token", "from-cli",
		"--tls-san=cli.example",
		"--disable-agent",
		"--kube-apiserver-arg=z=3",
		"-data-dir=/cli",
		"--", "--cluster-init=false",
	}
	if !slices.Equal(got, want) {
		t.Errorf("MergeArgs =\n%q\nwant\n%q", got, want)
	}

	// nil isList: scalars only, unless repeated in the file
	got = MergeArgs([]string{"--a=1", "--b=2", "--c=1", "--c=2"}, []string{"--a=9", "--c=3"}, nil)
	if want := []string{"--b=2", "--c=1", "--c=2", "--a=9", "--c=3"}; !slices.Equal(got, want) {
		t.Errorf("MergeArgs(nil isList) = %q, want %q", got, want)
	}
	// no CLI args: file args unchanged; no file args: CLI unchanged
	if got := MergeArgs([]string{"--a=1"}, nil, nil); !slices.Equal(got, []string{"--a=1"}) {
		t.Errorf("MergeArgs(file only) = %q", got)
	}
	if got := MergeArgs(nil, []string{"server", "--a"}, nil); !slices.Equal(got, []string{"server", "--a"}) {
		t.Errorf("MergeArgs(cli only) = %q", got)
	}
}

func TestFlattenThenMergeAppendKey(t *testing.T) {
	args, err := Flatten([]byte("node-label+: [x=1]\ntls-san: [a, b]\nnode-name: n1\n"))
	if err != nil {
		t.Fatal(err)
	}
	isList := func(n string) bool { return n == "node-label" || n == "tls-san" }
	got := MergeArgs(args, []string{"--node-label=y=2", "--tls-san=c", "--node-name=n2"}, isList)
	want := []string{"--node-label=x=1", "--tls-san=a", "--tls-san=b", "--node-label=y=2", "--tls-san=c", "--node-name=n2"}
	if !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}
