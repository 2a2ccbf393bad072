// Package ipvs is the IPVS table as data: virtual services, their real
// servers, a pure Diff of a desired table against the kernel's, and a kernel
// backend built on github.com/moby/ipvs (extended through its generic netlink
// edge where the library stops: tunnel types, 64-bit stats, the connection
// sync daemon).
//
// Nothing here knows about health checks, VRRP or configuration files. The
// director computes a desired Table and hands it to a Reconciler; the
// Reconciler reads the kernel once, diffs, drains and applies.
package ipvs
