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
// Where a proxy sits: agents -> server, listening on an address in the
// server's certificate (the server's own IP, another port) with the agents'
// --server pointing at it; server -> datastore (MySQL, PostgreSQL, external
// etcd), listening where the server can reach it with the server's
// --datastore-endpoint pointing at it. A distribution whose agents learn
// the apiservers from the kubernetes Endpoints (K3s's client-side load
// balancer) must advertise the proxy there (K3s: --advertise-port), or its
// agents leave the proxy seconds after they start.
package chatter
