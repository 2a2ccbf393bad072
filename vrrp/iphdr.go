package vrrp

import (
	"net"
	"net/netip"

	"golang.org/x/net/ipv4"
)

// advertHeader is the IPv4 header adverts are sent with: TOS 0xc0, TTL 255,
// protocol 112, no fragmentation flags, as keepalived sends them. The kernel
// fills in the ID and the header checksum (IP_HDRINCL).
func advertHeader(src, dst netip.Addr, payload int) *ipv4.Header {
	return &ipv4.Header{
		Version:  ipv4.Version,
		Len:      ipv4.HeaderLen,
		TOS:      TOS,
		TotalLen: ipv4.HeaderLen + payload,
		TTL:      TTL,
		Protocol: Protocol,
		Src:      net.IP(src.AsSlice()),
		Dst:      net.IP(dst.AsSlice()),
	}
}
