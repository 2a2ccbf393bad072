// Package scenario is lvsd's lab as a library: the architecture users
// deploy (two lvsd directors sharing a VIP by VRRP, three web real servers,
// a sorry server and a client) built from network namespaces on one kernel
// that has IPVS (the kernel lab VM, or the host), plus the client traffic
// and measurements that say whether a failure hurt anyone: a prober that
// makes a request on a new connection every few milliseconds (failed
// requests, outage, spread over the real servers) and long-lived
// connections (keep-alive streams and large downloads) that must survive a
// failover.
//
// `make lab` (cmd/lvsdlab) walks through it for a person to watch; the
// failure drills (test/drills) assert on it. It runs the real lvsd binary
// as the directors would, and knows nothing about lvsd's packages.
package scenario
