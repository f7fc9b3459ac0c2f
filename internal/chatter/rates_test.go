package chatter

import (
	"maps"
	"testing"
	"time"
)

var t0 = time.Date(2026, 12, 7, 8, 0, 0, 0, time.UTC)

func TestRates(t *testing.T) {
	tests := []struct {
		name          string
		before, after Snapshot
		want          map[string]Rate
		wantErr       bool
	}{
		{
			name:   "growth over ten seconds",
			before: Snapshot{At: t0, Clients: map[string]Counters{"node-a": {Up: 1000, Down: 5000, Opened: 2, Open: 2}}},
			after:  Snapshot{At: t0.Add(10 * time.Second), Clients: map[string]Counters{"node-a": {Up: 3000, Down: 25000, Opened: 3, Open: 1}}},
			want:   map[string]Rate{"node-a": {UpPerSec: 200, DownPerSec: 2000, OpenedPerSec: 0.1, Open: 1}},
		},
		{
			name:   "a client first seen in the later snapshot counts from zero",
			before: Snapshot{At: t0, Clients: map[string]Counters{}},
			after:  Snapshot{At: t0.Add(2 * time.Second), Clients: map[string]Counters{Other: {Up: 10, Down: 20, Opened: 1, Open: 1}}},
			want:   map[string]Rate{Other: {UpPerSec: 5, DownPerSec: 10, OpenedPerSec: 0.5, Open: 1}},
		},
		{
			name:   "counters that went down were reset: the later value is the increase",
			before: Snapshot{At: t0, Clients: map[string]Counters{"node-b": {Up: 9000, Down: 9000, Opened: 9}}},
			after:  Snapshot{At: t0.Add(4 * time.Second), Clients: map[string]Counters{"node-b": {Up: 400, Down: 800, Opened: 4}}},
			want:   map[string]Rate{"node-b": {UpPerSec: 100, DownPerSec: 200, OpenedPerSec: 1}},
		},
		{
			name:    "snapshots in the wrong order",
			before:  Snapshot{At: t0.Add(time.Second)},
			after:   Snapshot{At: t0},
			wantErr: true,
		},
		{
			name:    "one snapshot twice",
			before:  Snapshot{At: t0},
			after:   Snapshot{At: t0},
			wantErr: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Rates(tt.before, tt.after)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if !maps.Equal(got, tt.want) {
				t.Errorf("Rates = %+v, want %+v", got, tt.want)
			}
		})
	}
}
