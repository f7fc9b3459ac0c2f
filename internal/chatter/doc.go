// Package chatter measures control-plane chatter: what the parts of a
// cluster say to each other while it runs, per second.
//
// It holds three independent primitives, each read twice and turned into
// rates by the caller's window:
//
//   - Proxy, a counting TCP proxy placed on a path (agents -> server,
//     server -> datastore): bytes each way and connections, per client;
//   - APIMetrics, the apiserver's own counters read from its /metrics text:
//     requests per client (API Priority and Fairness flow schemas), storage
//     operations per type, and the response bytes the apiserver reports;
//   - DiskWrites, bytes a set of processes wrote to disk, from
//     /proc/PID/io or from a cgroup.
//
// Nothing here starts a cluster or knows a profile: the orchestrator places
// the proxy, scrapes the metrics and names the processes.
//
// Where a proxy sits (internal/deploy proxies.go places them, in the
// harness's own process): agents -> server, listening on the simulated
// network's gateway with the agents' --server pointing at it and the
// gateway in the server's certificate (--tls-san); server -> datastore
// (MySQL, PostgreSQL, etcd servers the run started), listening where the
// server reaches the machine, with the server's datastore endpoint
// pointing at it. A distribution whose agents learn the apiservers from
// the kubernetes Endpoints (K3s's client-side load balancer) would leave
// a proxy on --server seconds after they start: its agents are not
// counted (the reason is reported). Watch reads the proxies and the
// datastore's own counters through Paths (paths.go).
package chatter
