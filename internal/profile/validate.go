package profile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"regexp"
	"slices"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/distrobench/distrobench/internal/datastore/dstype"
)

// Supported values, sorted (they appear in error messages as listed). The
// datastore types are dstype.Names().
var (
	supportedStyles = []string{"k3s", "rke2"}
	supportedArchs  = []string{"amd64", "arm64"}
)

// SupportedArchs returns the architectures a profile may name, sorted.
func SupportedArchs() []string { return append([]string(nil), supportedArchs...) }

// SupportedStyles returns the distribution styles, sorted.
func SupportedStyles() []string { return append([]string(nil), supportedStyles...) }

// DeployerOwnedFlags are the server/agent flags distrobench sets on every
// run; a profile must not set them. Short aliases are K3s's.
var DeployerOwnedFlags = []string{
	"--data-dir", "--write-kubeconfig", "--https-listen-port", "--token",
	"--datastore-endpoint", "--cluster-init",
}

// AgentOwnedFlags are the agent flags distrobench sets for every agent it
// starts (besides DeployerOwnedFlags); a profile must not set them.
var AgentOwnedFlags = []string{"--server", "--token-file", "--node-name", "--node-ip"}

var agentShortAliases = map[string]string{"-s": "--server"}

func agentOwnedFlag(arg string) string {
	name, _, _ := strings.Cut(arg, "=")
	if long, ok := agentShortAliases[name]; ok {
		return long
	}
	if strings.HasPrefix(name, "-") && !strings.HasPrefix(name, "--") {
		name = "-" + name
	}
	if slices.Contains(AgentOwnedFlags, name) {
		return name
	}
	return ""
}

// ownedFlagHints say where the profile controls what the flag would do.
var ownedFlagHints = map[string]string{
	"--datastore-endpoint": " and set spec.datastore.endpoint",
	"--cluster-init":       " and set spec.datastore.type: embedded-etcd",
}

var shortFlagAliases = map[string]string{"-d": "--data-dir", "-o": "--write-kubeconfig", "-t": "--token"}

// Placeholders that args may use; ExpandArgs replaces them.
const (
	PlaceholderDataDir    = "${DATA_DIR}"    // the server's data dir
	PlaceholderRunDir     = "${RUN_DIR}"     // the run directory
	PlaceholderProfileDir = "${PROFILE_DIR}" // the directory of the profile file
)

var placeholderRE = regexp.MustCompile(`\$\{[^}]*\}`)

// ValidationError holds every problem found in one document.
type ValidationError struct {
	File   string // may be empty for a profile not loaded from a file
	Kind   string
	Name   string
	Errors field.ErrorList
}

func (e *ValidationError) Error() string {
	var b strings.Builder
	where := e.File
	if where == "" {
		where = fmt.Sprintf("%s %q", e.Kind, e.Name)
	}
	if len(e.Errors) == 1 {
		fmt.Fprintf(&b, "%s: invalid %s: %s", where, e.Kind, e.Errors[0].Error())
		return b.String()
	}
	fmt.Fprintf(&b, "%s: invalid %s (%d problems):", where, e.Kind, len(e.Errors))
	for _, fe := range e.Errors {
		b.WriteString("\n  ")
		b.WriteString(fe.Error())
	}
	return b.String()
}

// Unwrap exposes each *field.Error to errors.Is/As.
func (e *ValidationError) Unwrap() []error {
	out := make([]error, len(e.Errors))
	for i, fe := range e.Errors {
		out[i] = fe
	}
	return out
}

// Validate returns every problem at once as a *ValidationError (nil when the
// profile is valid). Call SetDefaults first.
func (p *Profile) Validate() error {
	errs := p.validate()
	if len(errs) == 0 {
		return nil
	}
	return &ValidationError{File: p.File, Kind: KindProfile, Name: p.Metadata.Name, Errors: errs}
}

func (p *Profile) validate() field.ErrorList {
	var errs field.ErrorList
	errs = append(errs, validateTypeMeta(p.APIVersion, p.Kind, KindProfile)...)
	errs = append(errs, validateName(p.Metadata.Name, field.NewPath("metadata", "name"))...)

	spec := field.NewPath("spec")
	s := &p.Spec
	if !slices.Contains(supportedStyles, s.Style) {
		errs = append(errs, field.NotSupported(spec.Child("style"), s.Style, supportedStyles))
	}

	switch {
	case s.Bundled != nil && s.Binary != "":
		errs = append(errs, field.Forbidden(spec.Child("binary"),
			"spec.bundled and spec.binary are mutually exclusive: keep bundled to build k3lite, or binary to run an existing one"))
	case s.Bundled == nil && s.Binary == "":
		errs = append(errs, field.Required(spec.Child("bundled"),
			"set exactly one of spec.bundled (build k3lite) or spec.binary (path to a k3s/rke2/k3lite binary)"))
	case s.Binary != "":
		errs = append(errs, validateBinary(s.Binary, spec.Child("binary"))...)
	}

	errs = append(errs, validateDatastore(s.Datastore, spec.Child("datastore"))...)

	if !slices.Contains(supportedArchs, s.Arch) {
		errs = append(errs, field.NotSupported(spec.Child("arch"), s.Arch, supportedArchs))
	}

	errs = append(errs, p.validateArgs(s.Server.Args, spec.Child("server", "args"))...)
	errs = append(errs, p.validateArgs(s.Agent.Args, spec.Child("agent", "args"))...)
	for i, a := range s.Agent.Args {
		if owned := agentOwnedFlag(a); owned != "" {
			errs = append(errs, field.Forbidden(spec.Child("agent", "args").Index(i), fmt.Sprintf(
				"%q is set by distrobench for every agent it starts; remove it from the profile", owned)))
		}
	}
	if n := s.Nodes.Agents; n < 0 || n > MaxAgents {
		errs = append(errs, field.Invalid(spec.Child("nodes", "agents"), n,
			fmt.Sprintf("must be between 0 and %d (agents share one /24 with the server)", MaxAgents)))
	}

	tp := spec.Child("timeouts")
	errs = append(errs, validateDuration(s.Timeouts.Ready, tp.Child("ready"))...)
	errs = append(errs, validateDuration(s.Timeouts.Stop, tp.Child("stop"))...)
	return errs
}

func validateTypeMeta(apiVersion, kind, wantKind string) field.ErrorList {
	var errs field.ErrorList
	if apiVersion != APIVersion {
		errs = append(errs, field.NotSupported(field.NewPath("apiVersion"), apiVersion, []string{APIVersion}))
	}
	if kind != wantKind {
		errs = append(errs, field.NotSupported(field.NewPath("kind"), kind, []string{wantKind}))
	}
	return errs
}

func validateName(name string, path *field.Path) field.ErrorList {
	if name == "" {
		return field.ErrorList{field.Required(path, "a name such as \"k3s\" (lower case letters, digits and '-')")}
	}
	var errs field.ErrorList
	for _, msg := range validation.IsDNS1123Label(name) {
		errs = append(errs, field.Invalid(path, name, msg))
	}
	return errs
}

func validateBinary(path string, fp *field.Path) field.ErrorList {
	st, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		e := field.NotFound(fp, path)
		e.Detail = "no such file (build one with 'distrobench build' or point to an installed k3s/rke2 binary)"
		return field.ErrorList{e}
	case err != nil:
		return field.ErrorList{field.Invalid(fp, path, err.Error())}
	case st.IsDir():
		return field.ErrorList{field.Invalid(fp, path, "is a directory, not a k3s/rke2/k3lite binary")}
	case st.Mode().Perm()&0o111 == 0:
		return field.ErrorList{field.Invalid(fp, path, "not executable (chmod +x it)")}
	}
	return nil
}

// validateDatastore is the one check of a datastore choice: the type is
// known and the endpoint, if any, fits it (dstype.CheckEndpoint).
func validateDatastore(d DatastoreSpec, fp *field.Path) field.ErrorList {
	if !dstype.Known(d.Type) {
		return field.ErrorList{field.NotSupported(fp.Child("type"), d.Type, dstype.Names())}
	}
	if d.Endpoint == "" {
		return nil
	}
	ep := fp.Child("endpoint")
	err := dstype.CheckEndpoint(d.Type, d.Endpoint)
	switch {
	case err == nil:
		return nil
	case !dstype.TakesEndpoint(d.Type):
		return field.ErrorList{field.Forbidden(ep, err.Error())}
	}
	return field.ErrorList{field.Invalid(ep, dstype.Redact(d.Endpoint), err.Error())}
}

func (p *Profile) validateArgs(args []string, fp *field.Path) field.ErrorList {
	var errs field.ErrorList
	for i, a := range args {
		if owned := ownedFlag(a); owned != "" {
			errs = append(errs, field.Forbidden(fp.Index(i), fmt.Sprintf(
				"%q is set by distrobench (the deployer passes it on every run); remove it from the profile%s",
				owned, ownedFlagHints[owned])))
		}
		for _, ph := range placeholderRE.FindAllString(a, -1) {
			switch ph {
			case PlaceholderDataDir, PlaceholderRunDir:
			case PlaceholderProfileDir:
				if p.File == "" {
					errs = append(errs, field.Invalid(fp.Index(i), a,
						PlaceholderProfileDir+" needs a profile loaded from a file"))
					continue
				}
				if path := profileDirPath(p.ExpandArgs([]string{a}, "", "")[0], p.profileDir()); path != "" && !fileExists(path) {
					e := field.NotFound(fp.Index(i), path)
					e.Detail = "no such file next to the profile"
					errs = append(errs, e)
				}
			default:
				errs = append(errs, field.Invalid(fp.Index(i), a, fmt.Sprintf(
					"unknown placeholder %s: supported are %s, %s and %s",
					ph, PlaceholderDataDir, PlaceholderRunDir, PlaceholderProfileDir)))
			}
		}
	}
	return errs
}

// profileDirPath extracts, from an expanded arg, the file path that starts
// at the profile dir (up to the next ',' that separates flag values).
func profileDirPath(expanded, dir string) string {
	i := strings.Index(expanded, dir)
	if i < 0 || dir == "" {
		return ""
	}
	path, _, _ := strings.Cut(expanded[i:], ",")
	return path
}

// ownedFlag returns the deployer-owned flag an arg sets, or "".
// "--token-file" and "--write-kubeconfig-mode" are different flags and pass.
func ownedFlag(arg string) string {
	name, _, _ := strings.Cut(arg, "=")
	if long, ok := shortFlagAliases[name]; ok {
		return long
	}
	if strings.HasPrefix(name, "-") && !strings.HasPrefix(name, "--") {
		name = "-" + name // urfave/cli also accepts -data-dir
	}
	for _, f := range DeployerOwnedFlags {
		if name == f {
			return f
		}
	}
	return ""
}

func validateDuration(v string, fp *field.Path) field.ErrorList {
	if v == "" {
		return nil // SetDefaults fills it
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		return field.ErrorList{field.Invalid(fp, v, "not a duration: use a number with a unit, e.g. \"90s\" or \"2m\"")}
	}
	if d <= 0 {
		return field.ErrorList{field.Invalid(fp, v, "must be greater than zero")}
	}
	return nil
}

// Validate returns every problem of the matrix document at once (nil when
// valid). Profiles are resolved and validated by Expand.
func (m *Matrix) Validate() error {
	var errs field.ErrorList
	errs = append(errs, validateTypeMeta(m.APIVersion, m.Kind, KindMatrix)...)
	errs = append(errs, validateName(m.Metadata.Name, field.NewPath("metadata", "name"))...)
	spec := field.NewPath("spec")
	if len(m.Spec.Profiles) == 0 {
		errs = append(errs, field.Required(spec.Child("profiles"), "list at least one profile name (see profiles/) or path"))
	}
	errs = append(errs, validateAxis(m.Spec.Profiles, spec.Child("profiles"), nil)...)
	errs = append(errs, validateAxis(m.Spec.Datastores, spec.Child("datastores"), dstype.Names())...)
	errs = append(errs, validateAxis(m.Spec.Archs, spec.Child("archs"), supportedArchs)...)
	if len(errs) == 0 {
		return nil
	}
	return &ValidationError{File: m.File, Kind: KindMatrix, Name: m.Metadata.Name, Errors: errs}
}

func validateAxis(values []string, fp *field.Path, supported []string) field.ErrorList {
	var errs field.ErrorList
	seen := map[string]bool{}
	for i, v := range values {
		switch {
		case v == "":
			errs = append(errs, field.Required(fp.Index(i), "must not be empty"))
		case seen[v]:
			errs = append(errs, field.Duplicate(fp.Index(i), v))
		case supported != nil && !slices.Contains(supported, v):
			errs = append(errs, field.NotSupported(fp.Index(i), v, supported))
		}
		seen[v] = true
	}
	return errs
}
