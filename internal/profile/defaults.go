package profile

import (
	"runtime"

	"github.com/distrobench/distrobench/internal/datastore/dstype"
)

// Defaults applied by SetDefaults.
const (
	DefaultStyle        = "k3s"
	DefaultTokenFile    = "server/token"
	DefaultReadyTimeout = "120s"
	DefaultStopTimeout  = "30s"
)

// SetDefaults fills every unset field. It is idempotent and never overrides
// a value the file set.
func (p *Profile) SetDefaults() {
	if p.APIVersion == "" {
		p.APIVersion = APIVersion
	}
	if p.Kind == "" {
		p.Kind = KindProfile
	}
	s := &p.Spec
	if s.Style == "" {
		s.Style = DefaultStyle
	}
	if s.Binary == "" && s.Bundled == nil {
		s.Bundled = &Bundled{}
	}
	if s.Datastore.Type == "" {
		s.Datastore.Type = dstype.Default
	}
	if s.Arch == "" {
		s.Arch = runtime.GOARCH
	}
	if s.TokenFile == "" {
		s.TokenFile = DefaultTokenFile
	}
	if s.Timeouts.Ready == "" {
		s.Timeouts.Ready = DefaultReadyTimeout
	}
	if s.Timeouts.Stop == "" {
		s.Timeouts.Stop = DefaultStopTimeout
	}
}

// SetDefaults fills unset matrix fields. An empty datastores or archs axis
// deliberately stays empty: it means "each profile's own value" (see
// Expand), so there is nothing to fill beyond the type meta. Call it anyway,
// like Profile.SetDefaults, before Validate.
func (m *Matrix) SetDefaults() {
	if m.APIVersion == "" {
		m.APIVersion = APIVersion
	}
	if m.Kind == "" {
		m.Kind = KindMatrix
	}
}
