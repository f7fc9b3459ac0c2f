package compare

import (
	"strings"
	"testing"
)

func TestRatios(t *testing.T) {
	tests := []struct {
		name           string
		baseline, cell []float64
		want           Ratio
	}{
		{"lower every round", []float64{10, 12, 11}, []float64{5, 9, 5.5},
			Ratio{Median: 0.5, Min: 0.5, Max: 0.75, Rounds: 3, Call: Lower}},
		{"higher every round", []float64{2, 2}, []float64{3, 5},
			Ratio{Median: 2, Min: 1.5, Max: 2.5, Rounds: 2, Call: Higher}},
		// The medians alone (cell 10 vs baseline 10.5) would call it lower;
		// one round the other way makes it noise.
		{"one round disagrees", []float64{10, 10.5, 11}, []float64{9, 10, 11.5},
			Ratio{Median: 0.9523809523809523, Min: 0.9, Max: 1.0454545454545454, Rounds: 3, Call: WithinNoise}},
		{"equal", []float64{4}, []float64{4}, Ratio{Median: 1, Min: 1, Max: 1, Rounds: 1, Call: WithinNoise}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Ratios(tt.baseline, tt.cell)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("Ratios = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestRatiosRefusesWhatCannotPair(t *testing.T) {
	tests := []struct {
		name           string
		baseline, cell []float64
		wantErr        string
	}{
		{"unpaired rounds", []float64{1, 2}, []float64{1}, "must pair up"},
		{"no round", nil, nil, "no round"},
		{"zero baseline", []float64{0}, []float64{1}, "baseline of 0"},
		{"negative cell", []float64{1}, []float64{-1}, "ratio of -1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Ratios(tt.baseline, tt.cell)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Ratios error = %v, want it to say %q", err, tt.wantErr)
			}
		})
	}
}

func TestVerdict(t *testing.T) {
	latency, rate := Figure{Unit: "seconds"}, Figure{Unit: "ops/s"}
	for _, tt := range []struct {
		f    Figure
		call Call
		want string
	}{
		{latency, Lower, "better"}, {latency, Higher, "worse"},
		{rate, Lower, "worse"}, {rate, Higher, "better"},
		{latency, WithinNoise, "within noise"}, {rate, NotInterleaved, "not interleaved"},
	} {
		if got := tt.f.Verdict(Ratio{Call: tt.call}); got != tt.want {
			t.Errorf("%s %s: verdict %q, want %q", tt.f.Unit, tt.call, got, tt.want)
		}
	}
}
