package cli

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/distrobench/distrobench/internal/images"
	"github.com/distrobench/distrobench/internal/progress"
	"github.com/distrobench/distrobench/internal/upstream"
)

type imagesOptions struct {
	arch string
	out  string
}

func (o *imagesOptions) bind(cmd *cobra.Command) {
	cmd.Flags().StringVar(&o.arch, "arch", runtime.GOARCH, "target architecture: amd64 or arm64")
	cmd.Flags().StringVar(&o.out, "out", "", "directory for the image archives (default _output/images/<arch>)")
}

func (o *imagesOptions) options(g *globals, names []string) images.Options {
	return images.Options{RepoRoot: g.repoRoot, Arch: o.arch, OutDir: o.out, Names: names, Log: g.log}
}

func newImagesCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "images",
		Short: "Build the container images a cluster and the suites need, with no registry",
		Long: `The images k3lite and the test suites run, built locally from Go modules,
Debian packages and busybox's source under the exact names upstream uses (pause, CoreDNS, busybox,
agnhost, and every image of the upstream [Conformance] specs), one archive per
image and arch. Each archive is an OCI image layout and a docker-archive in
one tar: 'ctr -n k8s.io images import' and the k3lite
agent (every <data-dir>/agent/images/*.tar at start) load it; no pod pulls.`,
		Example: `  distrobench images list
  distrobench images build
  distrobench images build --arch arm64 pause busybox`,
	}
	cmd.AddCommand(newImagesBuildCmd(g), newImagesListCmd(g))
	return cmd
}

// listSuiteImages compares the images e2e.test names with the catalog, when
// e2e.test of this machine's arch is built.
func listSuiteImages(ctx context.Context, g *globals) error {
	bins := upstream.BinaryPaths(g.repoRoot, runtime.GOARCH)
	if _, err := os.Stat(bins.E2ETest); err != nil {
		fmt.Fprintf(g.stdout, "\n(upstream e2e.test not built: `make -C distro e2e` to compare with the images its specs use)\n")
		return nil
	}
	listed, err := upstream.ListImages(ctx, bins.E2ETest)
	if err != nil {
		return err
	}
	var catalog []string
	for _, s := range images.List() {
		catalog = append(catalog, s.Name)
	}
	c := upstream.CoverImages(listed, catalog)
	fmt.Fprintf(g.stdout, "\ne2e.test --list-images names %d images: %d built above, %d not built because no [Conformance] spec uses them:\n",
		len(listed), len(c.Built), len(c.NotBuilt))
	tw := tabwriter.NewWriter(g.stdout, 0, 4, 2, ' ', 0)
	for _, img := range c.NotBuilt {
		fmt.Fprintf(tw, "  %s\t%s\n", img, upstream.NotBuilt[img])
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(c.Unclassified) > 0 {
		return fmt.Errorf("e2e.test names images distrobench neither builds nor lists as unneeded: %s (add a recipe to internal/images or a reason to upstream.NotBuilt)", strings.Join(c.Unclassified, ", "))
	}
	return nil
}

func newImagesBuildCmd(g *globals) *cobra.Command {
	o := &imagesOptions{}
	cmd := &cobra.Command{
		Use:   "build [NAME...]",
		Short: "Build image archives (all, or the named ones), cached by input hash",
		Long: `Build the named images (short names as 'images list' shows them, or full
references; default all) for one arch into _output/images/<arch>/. An image is
rebuilt only when its inputs changed: Go sources and module versions, the Go
toolchain, the Debian package version. A cold CoreDNS or agnhost build takes
minutes on 2 cores. Prints each image's archive, digest and size.`,
		Example: `  distrobench images build
  distrobench images build --arch arm64
  distrobench images build --out /tmp/images pause registry.k8s.io/e2e-test-images/busybox:1.37.0-2`,
		RunE: func(cmd *cobra.Command, args []string) error {
			pr := progress.New(g.stderr)
			pr.Phase(fmt.Sprintf("build images (linux/%s)", o.arch))
			opts := o.options(g, args)
			opts.Progress = func(s string) { pr.Status("%s", s) }
			imgs, err := images.Build(cmd.Context(), opts)
			for _, img := range imgs {
				how := fmt.Sprintf("built in %.1fs", img.BuildSeconds)
				if img.Cached {
					how = "cached"
				}
				fmt.Fprintf(g.stdout, "%s\n  %s\n  %s, %s, %s\n  from %s\n", img.Name, img.Tarball, img.Digest, mib(img.SizeBytes), how, img.Source)
			}
			return err
		},
	}
	o.bind(cmd)
	return cmd
}

func newImagesListCmd(g *globals) *cobra.Command {
	o := &imagesOptions{}
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the image catalog: name, what needs it, size, source, and the archive when built",
		Long: `List the images distrobench builds. When the upstream e2e.test is built
(make -C distro e2e), also list every image it names (e2e.test --list-images)
that distrobench does not build, with the reason (no [Conformance] spec uses
it), and fail on any image nobody has classified yet.`,
		Example: `  distrobench images list
  distrobench images list --arch arm64`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			built, err := images.Find(o.options(g, nil))
			if err != nil {
				return err
			}
			byName := map[string]images.Image{}
			for _, b := range built {
				byName[b.Name] = b
			}
			tw := tabwriter.NewWriter(g.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tUSED BY\tSIZE\tSOURCE\tTARBALL\tDIGEST")
			for _, s := range images.List() {
				size, src, tarball, digest := "-", s.Source, "-", "(not built)"
				if b, ok := byName[s.Name]; ok {
					size, src, tarball, digest = mib(b.SizeBytes), b.Source, b.Tarball, b.Digest
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", s.Name, strings.Join(s.UsedBy, ","), size, src, tarball, digest)
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			return listSuiteImages(cmd.Context(), g)
		},
	}
	o.bind(cmd)
	return cmd
}
