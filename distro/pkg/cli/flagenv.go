package cli

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"github.com/spf13/pflag"

	"github.com/distrobench/distrobench/distro/pkg/token"
)

// envDefault sets *dst from the environment variable name (when set and not
// empty) unless the flag was given: flags win over the environment, as in K3s.
func envDefault(fs *pflag.FlagSet, flag, name string, dst *string) {
	if fs.Changed(flag) {
		return
	}
	if v, ok := os.LookupEnv(name); ok && v != "" {
		*dst = v
	}
}

// resolveToken reads --token-file into *tok (it may not be combined with a
// non-empty --token) and checks the token's format; the errors never repeat
// the secret.
func resolveToken(fs *pflag.FlagSet, tokenFile string, tok *string) error {
	if tokenFile != "" {
		if *tok != "" && fs.Changed("token") {
			return errors.New("--token and --token-file are mutually exclusive")
		}
		b, err := os.ReadFile(tokenFile)
		if err != nil {
			return fmt.Errorf("--token-file: %w", err)
		}
		*tok = strings.TrimSpace(string(b))
		if *tok == "" {
			return fmt.Errorf("--token-file %s is empty", tokenFile)
		}
	}
	if *tok != "" {
		if _, err := token.Parse(*tok); err != nil {
			return fmt.Errorf("--token: %w", err)
		}
	}
	return nil
}

// resolvePrivateRegistry applies K3s's rule for --private-registry: the
// default file is read only when it exists; a file given on the command
// line (or in the config file) must exist, which loading it checks.
func resolvePrivateRegistry(flags *pflag.FlagSet, file *string) {
	if flags.Changed("private-registry") || *file == "" {
		return
	}
	if _, err := os.Stat(*file); errors.Is(err, fs.ErrNotExist) {
		*file = ""
	}
}
