package reports

import (
	"maps"

	"github.com/distrobench/distrobench/internal/redact"
	"github.com/distrobench/distrobench/internal/result"
)

// sanitize returns a deep copy of r with every free-text field passed
// through redact. The model is redacted where it is filled; this is the
// belt-and-braces pass so that no renderer can leak a secret that slipped
// through. Redaction is idempotent, so a sanitized report re-read from
// report.json renders identically.
func sanitize(r *result.Report) *result.Report {
	s := redact.String
	out := *r
	out.RunID = s(r.RunID)
	out.Reason = s(r.Reason)

	p := r.Params
	p.Command = s(p.Command)
	p.Profile = s(p.Profile)
	p.ProfileFile = s(p.ProfileFile)
	p.Datastore = s(p.Datastore)
	p.Endpoint = redact.Endpoint(p.Endpoint)
	p.Arch = s(p.Arch)
	p.Binary = s(p.Binary)
	p.LabelFilter = s(p.LabelFilter)
	p.Extra = redactMap(p.Extra)
	out.Params = p

	h := r.Host
	h.Hostname, h.OS, h.Platform = s(h.Hostname), s(h.OS), s(h.Platform)
	h.Kernel, h.Arch, h.CPUModel = s(h.Kernel), s(h.Arch), s(h.CPUModel)
	out.Host = h

	v := r.Versions
	v.Tool, v.Distribution, v.Kubernetes, v.Datastore, v.Go = s(v.Tool), s(v.Distribution), s(v.Kubernetes), s(v.Datastore), s(v.Go)
	out.Versions = v

	if r.Phases != nil {
		out.Phases = make([]result.Phase, len(r.Phases))
		for i, ph := range r.Phases {
			ph.Name = s(ph.Name)
			ph.Error = s(ph.Error)
			out.Phases[i] = ph
		}
	}
	if r.Tests != nil {
		t := sanitizeItem(*r.Tests)
		out.Tests = &t
	}
	if r.Measurements != nil {
		out.Measurements = make([]result.Measurement, len(r.Measurements))
		for i, m := range r.Measurements {
			m.Name = s(m.Name)
			m.Description = s(m.Description)
			m.Labels = redactMap(m.Labels)
			m.Attributes = redactMap(m.Attributes)
			m.Missing = s(m.Missing)
			m.Samples = append([]float64(nil), m.Samples...)
			if m.SLO != nil {
				slo := *m.SLO
				slo.Source = s(slo.Source)
				m.SLO = &slo
			}
			out.Measurements[i] = m
		}
	}
	if r.ServerLogTail != nil {
		out.ServerLogTail = make([]string, len(r.ServerLogTail))
		for i, line := range r.ServerLogTail {
			out.ServerLogTail[i] = s(line)
		}
	}
	return &out
}

func sanitizeItem(it result.Item) result.Item {
	it.Name = redact.String(it.Name)
	it.Message = redact.String(it.Message)
	it.Meta = redactMap(it.Meta)
	if it.Items != nil {
		children := make([]result.Item, len(it.Items))
		for i := range it.Items {
			children[i] = sanitizeItem(it.Items[i])
		}
		it.Items = children
	}
	return it
}

func redactMap(m map[string]string) map[string]string {
	if m == nil {
		return nil
	}
	out := maps.Clone(m)
	for k, v := range out {
		out[k] = redact.String(v)
	}
	return out
}
