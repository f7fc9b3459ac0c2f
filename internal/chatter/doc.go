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
package chatter
