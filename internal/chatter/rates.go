package chatter

import (
	"fmt"
	"time"
)

// Rate is one client's traffic through a Proxy per second between two
// snapshots, with its connections open at the later one.
type Rate struct {
	// UpPerSec is bytes per second from the client towards the upstream.
	UpPerSec float64
	// DownPerSec is bytes per second from the upstream back to the client.
	DownPerSec float64
	// OpenedPerSec is new connections per second (reconnect churn).
	OpenedPerSec float64
	// Open is the connections open at the later snapshot.
	Open int64
}

// Rates turns two snapshots of one proxy into per-second rates per client.
// A client seen only in the later snapshot counts from zero.
func Rates(before, after Snapshot) (map[string]Rate, error) {
	secs, err := window(before.At, after.At)
	if err != nil {
		return nil, err
	}
	out := make(map[string]Rate, len(after.Clients))
	for k, a := range after.Clients {
		b := before.Clients[k]
		out[k] = Rate{
			UpPerSec:     increase(float64(b.Up), float64(a.Up)) / secs,
			DownPerSec:   increase(float64(b.Down), float64(a.Down)) / secs,
			OpenedPerSec: increase(float64(b.Opened), float64(a.Opened)) / secs,
			Open:         a.Open,
		}
	}
	return out, nil
}

// window is the seconds from before to after; it refuses an empty or
// reversed window, which would make every rate meaningless.
func window(before, after time.Time) (float64, error) {
	d := after.Sub(before)
	if d <= 0 {
		return 0, fmt.Errorf("readings out of order: the later one was taken %v after the earlier one (take the first reading before the window, the second after it)", d)
	}
	return d.Seconds(), nil
}

// increase is how much a cumulative counter grew from before to after.
// A counter that went down was reset (its process restarted) and counted
// again from zero, so its whole later value is the increase, as
// Prometheus' rate() assumes.
func increase(before, after float64) float64 {
	if after < before {
		return after
	}
	return after - before
}
