package cli

import (
	"fmt"
	"runtime"

	"github.com/spf13/cobra"

	"github.com/distrobench/distrobench/internal/profile"
)

func newProfilesCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:     "profiles",
		Short:   "List the distribution profiles in profiles/ and check that each one validates",
		Example: "  distrobench profiles",
		Args:    cobra.NoArgs,
		RunE: func(_ *cobra.Command, _ []string) error {
			names, err := profile.List(g.profilesDir())
			if err != nil {
				return err
			}
			var bad int
			for _, n := range names {
				p, err := profile.Resolve(n, g.profilesDir())
				if err == nil {
					p.SetDefaults()
					err = p.Validate()
				}
				if err != nil {
					bad++
					fmt.Fprintf(g.stdout, "%-10s INVALID: %v\n", n, err)
					continue
				}
				src := "bundled k3lite"
				if p.Spec.Bundled == nil {
					src = p.Spec.Binary
				}
				fmt.Fprintf(g.stdout, "%-10s %-5s %-14s %-15s %s\n", n, p.Spec.Style, p.Spec.Datastore.Type, src, p.Metadata.Description)
			}
			if bad > 0 {
				return fmt.Errorf("%d profile(s) do not validate", bad)
			}
			return nil
		},
	}
}

func newVersionCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print distrobench's version",
		Args:  cobra.NoArgs,
		Run: func(_ *cobra.Command, _ []string) {
			fmt.Fprintf(g.stdout, "distrobench %s (%s, %s/%s)\n", Version, runtime.Version(), runtime.GOOS, runtime.GOARCH)
		},
	}
}
