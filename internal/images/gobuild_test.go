package images

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
)

var discard = slog.New(slog.NewTextHandler(io.Discard, nil))

// tempModule writes a tiny main module (standard library only, so `go list`
// needs no network) under root/mod.
func tempModule(t *testing.T, root, body string) goBinary {
	t.Helper()
	writeFile(t, filepath.Join(root, "mod", "go.mod"), "module example.com/tool\n\ngo 1.22\n")
	writeFile(t, filepath.Join(root, "mod", "cmd", "tool", "main.go"), "package main\n\nfunc main() { "+body+" }\n")
	return goBinary{moduleDir: "mod", pkg: "./cmd/tool", path: "/tool"}
}

func TestGoResolveHashesSourcesAndSettings(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	b := tempModule(t, root, "println(1)")
	in, err := goResolve(ctx, discard, root, "amd64", b)
	if err != nil {
		t.Fatal(err)
	}
	if in.source != "go package example.com/tool/cmd/tool" {
		t.Errorf("source %q", in.source)
	}
	if in.dir != filepath.Join(root, "mod", "cmd", "tool") {
		t.Errorf("dir %q", in.dir)
	}
	again, err := goResolve(ctx, discard, root, "amd64", b)
	if err != nil || again.hash != in.hash {
		t.Fatalf("same inputs, different hash (%v)", err)
	}
	arm, err := goResolve(ctx, discard, root, "arm64", b)
	if err != nil || arm.hash == in.hash {
		t.Errorf("arch does not change the hash (%v)", err)
	}
	flags := b
	flags.xflags = []string{"main.Version=1"}
	if f, err := goResolve(ctx, discard, root, "amd64", flags); err != nil || f.hash == in.hash {
		t.Errorf("ldflags do not change the hash (%v)", err)
	}
	tagged := b
	tagged.tags = []string{"netgo"}
	if g, err := goResolve(ctx, discard, root, "amd64", tagged); err != nil || g.hash == in.hash {
		t.Errorf("build tags do not change the hash (%v)", err)
	}
	tempModule(t, root, "println(2)")
	changed, err := goResolve(ctx, discard, root, "amd64", b)
	if err != nil || changed.hash == in.hash {
		t.Errorf("a changed source file does not change the hash (%v)", err)
	}
}

func TestGoResolveWantsTheNamedSourceModule(t *testing.T) {
	root := t.TempDir()
	b := tempModule(t, root, "")
	b.sourceModule = "github.com/coredns/coredns"
	_, err := goResolve(context.Background(), discard, root, "amd64", b)
	if err == nil || !strings.Contains(err.Error(), "github.com/coredns/coredns") {
		t.Fatalf("err = %v, want one naming the missing source module", err)
	}
}

func TestGoResolveReportsABrokenPackage(t *testing.T) {
	root := t.TempDir()
	b := tempModule(t, root, "")
	b.pkg = "./cmd/missing"
	if _, err := goResolve(context.Background(), discard, root, "amd64", b); err == nil || !strings.Contains(err.Error(), "./cmd/missing") {
		t.Fatalf("err = %v, want one naming the package", err)
	}
}
