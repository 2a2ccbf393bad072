// Package vrrp implements VRRP v2 (RFC 3768) and v3 (RFC 5798): the packet
// codec, a pure state machine driven by received adverts and clock ticks, the
// network side (raw IP protocol 112 sockets), and VIP ownership (addresses and
// gratuitous ARP / unsolicited neighbour advertisements). It knows nothing
// about IPVS or health checks; the director feeds it priority changes.
package vrrp
