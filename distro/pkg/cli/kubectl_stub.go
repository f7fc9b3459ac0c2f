//go:build nokubectl

package cli

import (
	"fmt"
	"os"
)

// RunKubectl reports that this build left kubectl out (-tags nokubectl, a
// size experiment: see the Makefile's TAGS).
func RunKubectl([]string) int {
	fmt.Fprintln(os.Stderr, "kubectl: not included in this build (built with -tags nokubectl)")
	return 2
}
