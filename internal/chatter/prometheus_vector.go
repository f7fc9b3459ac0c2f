package chatter

import (
	"fmt"
	"slices"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/model"
)

// familiesOf files an instant query's samples as untyped metric families
// by metric name, the shape APIMetricsFrom reads (a scrape without TYPE
// lines looks the same), and lists the instance labels they carry.
func familiesOf(v model.Value) (map[string]*dto.MetricFamily, []string, error) {
	vec, ok := v.(model.Vector)
	if !ok {
		return nil, nil, fmt.Errorf("the query returned a %s, not an instant vector", v.Type())
	}
	fams := map[string]*dto.MetricFamily{}
	var instances []string
	for _, s := range vec {
		name := string(s.Metric[model.MetricNameLabel])
		mf := fams[name]
		if mf == nil {
			mf = &dto.MetricFamily{Name: &name, Type: dto.MetricType_UNTYPED.Enum()}
			fams[name] = mf
		}
		mf.Metric = append(mf.Metric, untyped(s))
		if in := string(s.Metric[model.InstanceLabel]); !slices.Contains(instances, in) {
			instances = append(instances, in)
		}
	}
	slices.Sort(instances)
	return fams, instances, nil
}

// untyped is one sample as an untyped metric, its name label left out.
func untyped(s *model.Sample) *dto.Metric {
	m := &dto.Metric{Untyped: &dto.Untyped{Value: new(float64(s.Value))}}
	for k, v := range s.Metric {
		if k == model.MetricNameLabel {
			continue
		}
		m.Label = append(m.Label, &dto.LabelPair{Name: new(string(k)), Value: new(string(v))})
	}
	return m
}
