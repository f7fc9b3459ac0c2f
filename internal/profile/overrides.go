package profile

import (
	"errors"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"
)

// DeepCopy returns a copy sharing no memory with p.
func (p *Profile) DeepCopy() *Profile {
	if p == nil {
		return nil
	}
	out := *p
	s := &out.Spec
	if p.Spec.Bundled != nil {
		b := *p.Spec.Bundled
		b.Tags = slices.Clone(b.Tags)
		b.LDFlags = slices.Clone(b.LDFlags)
		b.Env = maps.Clone(b.Env)
		s.Bundled = &b
	}
	s.Server = p.Spec.Server.deepCopy()
	s.Agent = p.Spec.Agent.deepCopy()
	return &out
}

func (c Component) deepCopy() Component {
	return Component{Args: slices.Clone(c.Args), Env: maps.Clone(c.Env)}
}

// WithOverrides returns a deep copy of p with the given values replacing the
// profile's; an empty string keeps the profile's value. Overriding the
// datastore type without an endpoint drops the profile's endpoint, which
// belonged to the old type. It is how a matrix cell or a --datastore/--arch
// flag composes with a base profile; the result still needs Validate.
func (p *Profile) WithOverrides(datastore, endpoint, arch string) *Profile {
	out := p.DeepCopy()
	if datastore != "" && datastore != out.Spec.Datastore.Type {
		out.Spec.Datastore.Type = datastore
		out.Spec.Datastore.Endpoint = ""
	}
	if endpoint != "" {
		out.Spec.Datastore.Endpoint = endpoint
	}
	if arch != "" {
		out.Spec.Arch = arch
	}
	return out
}

// profileDir is the absolute directory of the profile file ("" if unknown).
func (p *Profile) profileDir() string {
	if p.File == "" {
		return ""
	}
	dir, err := filepath.Abs(filepath.Dir(p.File))
	if err != nil {
		return filepath.Dir(p.File)
	}
	return dir
}

// ExpandArgs returns a copy of args with the placeholders replaced:
// ${DATA_DIR} by dataDir (the server's data dir), ${RUN_DIR} by runDir and
// ${PROFILE_DIR} by the absolute directory of p.File. Nothing else is
// expanded: os.Expand would also take "$X" and drop unknown variables,
// which could silently change an argument. A profile not loaded from a file
// keeps ${PROFILE_DIR} as is (Validate reports it).
func (p *Profile) ExpandArgs(args []string, dataDir, runDir string) []string {
	pairs := []string{PlaceholderDataDir, dataDir, PlaceholderRunDir, runDir}
	if dir := p.profileDir(); dir != "" {
		pairs = append(pairs, PlaceholderProfileDir, dir)
	}
	r := strings.NewReplacer(pairs...)
	out := make([]string, len(args))
	for i, a := range args {
		out[i] = r.Replace(a)
	}
	return out
}

// Name identifies the cell: <profile>-<datastore>-<arch>, e.g.
// "k3s-sqlite-amd64".
func (c Cell) Name() string {
	name := ""
	if c.Profile != nil {
		name = c.Profile.Metadata.Name
	}
	return name + "-" + c.Datastore + "-" + c.Arch
}

// Expand resolves the matrix's profiles (names in profilesDir, or paths
// relative to the matrix file) and returns one cell per profile x datastore
// x arch, in that order. Each cell's profile is the defaulted base profile
// plus the cell's overrides (WithOverrides): an empty axis keeps each
// profile's own value. Every cell is validated; all problems are returned
// together.
func (m *Matrix) Expand(profilesDir string) ([]Cell, error) {
	if err := m.Validate(); err != nil {
		return nil, err
	}
	datastores := m.Spec.Datastores
	if len(datastores) == 0 {
		datastores = []string{""}
	}
	archs := m.Spec.Archs
	if len(archs) == 0 {
		archs = []string{""}
	}
	var (
		cells []Cell
		errs  []error
		seen  = map[string]string{}
	)
	for _, ref := range m.Spec.Profiles {
		if isPath(ref) && !filepath.IsAbs(ref) && m.File != "" {
			ref = filepath.Join(filepath.Dir(m.File), ref)
		}
		base, err := Resolve(ref, profilesDir)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		base.SetDefaults()
		for _, ds := range datastores {
			for _, arch := range archs {
				p := base.WithOverrides(ds, "", arch)
				c := Cell{Profile: p, Datastore: p.Spec.Datastore.Type, Arch: p.Spec.Arch}
				if err := p.Validate(); err != nil {
					errs = append(errs, fmt.Errorf("matrix cell %s: %w", c.Name(), err))
					continue
				}
				if prev, dup := seen[c.Name()]; dup {
					errs = append(errs, fmt.Errorf("matrix cell %s appears twice (profiles %s and %s have the same metadata.name)",
						c.Name(), prev, base.File))
					continue
				}
				seen[c.Name()] = base.File
				cells = append(cells, c)
			}
		}
	}
	if len(errs) > 0 {
		where := m.File
		if where == "" {
			where = "matrix " + m.Metadata.Name
		}
		return nil, fmt.Errorf("%s: %w", where, errors.Join(errs...))
	}
	return cells, nil
}
