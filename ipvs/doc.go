// Package ipvs is the IPVS table as data: virtual services and their real
// servers (Table), validation, a pure Diff of a desired table against the
// kernel's, a Reconciler that adds ownership, drain and drift on top, and
// the kernel backend (Kernel). The backend writes through
// github.com/moby/ipvs and has its own small generic-netlink edge where the
// library stops (the table dump with tunnel settings and 64-bit counters,
// GUE/GRE tunnel real servers, the connection sync daemon); it reads the
// real servers of IPv4 services with IPVS's getsockopt interface, which is
// far cheaper than a netlink dump per service. docs/ipvs.md has the rules.
//
// Nothing here knows about health checks, VRRP or configuration files. The
// director computes a desired Table and hands it to a Reconciler; the
// Reconciler reads the kernel once, diffs, drains and applies.
package ipvs
