// Package control is lvsd's control API: JSON over HTTP on a unix socket
// (status, reload, drain/disable/enable overrides, VRRP failover), the
// same reads on an optional TCP address for remote monitoring, and the
// client the CLI uses. It reads the daemon through the director's status
// snapshot and the kernel's counters (cached, see Counters); it changes
// the daemon only through the Director's methods, never its state.
// docs/operations.md documents every endpoint.
package control
