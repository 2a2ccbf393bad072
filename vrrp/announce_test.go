package vrrp

import (
	"bytes"
	"encoding/binary"
	"net"
	"net/netip"
	"testing"
)

// TestGoldenGARP builds keepalived's gratuitous ARP byte for byte.
func TestGoldenGARP(t *testing.T) {
	want := goldenFrames(t)["v2-garp"]
	hw := net.HardwareAddr(want[6:12])
	got, err := garpFrame(hw, netip.MustParseAddr("10.200.0.100"))
	if err != nil {
		t.Fatal(err)
	}
	// The capture is 42 bytes (taken at the sender, before padding); the
	// Ethernet library pads to the 60-byte minimum with zeros.
	if !bytes.Equal(got[:len(want)], want) {
		t.Fatalf("frame %x\nwant  %x", got[:len(want)], want)
	}
	for _, b := range got[len(want):] {
		if b != 0 {
			t.Fatalf("padding %x is not zero", got[len(want):])
		}
	}
}

func TestNeighbourAdvert(t *testing.T) {
	hw := net.HardwareAddr{0x02, 0, 0, 0, 0, 0x0b}
	target := netip.MustParseAddr("2001:db8::100")
	for _, router := range []bool{false, true} {
		m, err := naMessage(target, hw, router)
		if err != nil {
			t.Fatal(err)
		}
		if len(m) != 32 || m[0] != 136 || m[1] != 0 {
			t.Fatalf("message %x: want 32 bytes of ICMPv6 type 136 code 0", m)
		}
		flags := binary.BigEndian.Uint32(m[4:8])
		wantFlags := uint32(0x20000000) // override, not solicited
		if router {
			wantFlags |= 0x80000000
		}
		if flags != wantFlags {
			t.Fatalf("flags %#08x, want %#08x", flags, wantFlags)
		}
		if got, _ := netip.AddrFromSlice(m[8:24]); got != target {
			t.Fatalf("target %v, want %v", got, target)
		}
		if m[24] != 2 || m[25] != 1 || !bytes.Equal(m[26:32], hw) {
			t.Fatalf("option %x: want target link-layer address %v", m[24:], hw)
		}
	}
}
