// Package vrrp implements VRRP v2 (RFC 3768) and v3 (RFC 5798) for lvsd's
// director role, interoperating with keepalived on the wire.
//
// The layers, bottom up:
//
//   - packet.go, filter.go, drop.go: the advert codec and the receive checks
//     (TTL, version, type, VRID, length, checksum with the v3 pseudo-header,
//     v2 auth and interval, address list), with a reason for every drop.
//   - machine.go: the state machine, pure in the manner of etcd's raft: inputs
//     with the current time in (Start, Step, Tick, SetPriority, SetFault,
//     SetHold, StepDown, Shutdown), a Ready out (adverts, transitions,
//     own/release addresses, next deadline). No sockets, goroutines or clocks.
//   - conn.go, vip.go, announce.go, links.go: raw IP protocol 112 sockets, the
//     virtual addresses (netlink), gratuitous ARP / unsolicited neighbour
//     adverts, link state; all opened in the caller's network namespace.
//   - instance.go: Instance, one goroutine per virtual router tying the above
//     together, with events, counters, tracking (track.go, script.go), notify
//     hooks (notify.go), a state file (statefile.go) and sync groups
//     (syncgroup.go).
//
// It knows nothing about IPVS, health checks or the HCL schema: the director
// builds Configs, feeds tracked objects with Instance.SetTrack and reads
// Instance.Events.
package vrrp
