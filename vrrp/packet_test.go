package vrrp

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/ipv4"
)

// TestGoldenAdverts decodes every keepalived 2.2.7 capture, checks the
// fields against what the capture was taken of, and re-encodes it byte for
// byte: the VRRP message, and the IPv4 header our sender builds.
func TestGoldenAdverts(t *testing.T) {
	vip := netip.MustParseAddr("10.200.0.100")
	tests := []struct {
		name     string
		version  uint8
		prio     uint8
		interval time.Duration
		src, dst string
	}{
		{"v2-mcast-advert-prio0", 2, 0, time.Second, "10.200.0.11", "224.0.0.18"},
		{"v2-mcast-advert-prio100", 2, 100, time.Second, "10.200.0.12", "224.0.0.18"},
		{"v2-mcast-advert-prio150", 2, 150, time.Second, "10.200.0.11", "224.0.0.18"},
		{"v2-unicast-advert-prio0", 2, 0, time.Second, "10.200.0.11", "10.200.0.12"},
		{"v2-unicast-advert-prio150", 2, 150, time.Second, "10.200.0.11", "10.200.0.12"},
		{"v3-mcast-100ms-advert-prio0", 3, 0, 100 * time.Millisecond, "10.200.0.11", "224.0.0.18"},
		{"v3-mcast-100ms-advert-prio100", 3, 100, 100 * time.Millisecond, "10.200.0.12", "224.0.0.18"},
		{"v3-mcast-100ms-advert-prio150", 3, 150, 100 * time.Millisecond, "10.200.0.11", "224.0.0.18"},
		{"v3-mcast-1s-advert-prio0", 3, 0, time.Second, "10.200.0.11", "224.0.0.18"},
		{"v3-mcast-1s-advert-prio150", 3, 150, time.Second, "10.200.0.11", "224.0.0.18"},
		{"v3-unicast-advert-prio0", 3, 0, time.Second, "10.200.0.11", "10.200.0.12"},
		{"v3-unicast-advert-prio150", 3, 150, time.Second, "10.200.0.11", "10.200.0.12"},
	}
	frames := goldenFrames(t)
	seen := 0
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			frame, ok := frames[tt.name]
			if !ok {
				t.Fatalf("no capture %s.pcap", tt.name)
			}
			seen++
			if et := binary.BigEndian.Uint16(frame[12:14]); et != 0x0800 {
				t.Fatalf("ethertype %#04x, want IPv4", et)
			}
			pkt := frame[14:]
			h, err := ipv4.ParseHeader(pkt)
			if err != nil {
				t.Fatal(err)
			}
			src, dst := netip.MustParseAddr(tt.src), netip.MustParseAddr(tt.dst)
			if h.Src.String() != tt.src || h.Dst.String() != tt.dst || h.TTL != TTL || h.TOS != TOS || h.Protocol != Protocol {
				t.Fatalf("IP header %v, want %s > %s ttl 255 tos 0xc0 proto 112", h, tt.src, tt.dst)
			}
			msg := pkt[h.Len:h.TotalLen]

			got, err := ParseAdvert(msg, src, dst)
			if err != nil {
				t.Fatalf("ParseAdvert: %v", err)
			}
			want := Advert{
				Version: tt.version, VRID: 51, Priority: tt.prio, Interval: tt.interval,
				Addrs: []netip.Addr{vip}, Checksum: binary.BigEndian.Uint16(msg[6:8]),
			}
			if tt.version == 2 {
				want.AuthType = AuthPass
				want.AuthData = PassData("s3cr3t")
			}
			if !advertEqual(got, want) {
				t.Fatalf("decoded %+v\nwant    %+v", got, want)
			}

			// Re-encode both the decoded and the constructed advert.
			for _, a := range []Advert{got, want} {
				enc, err := a.Marshal(src, dst)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(enc, msg) {
					t.Fatalf("encoded %x\nwant    %x", enc, msg)
				}
			}

			// The header our sender hands the kernel, plus what the kernel
			// fills in (ID, checksum), is keepalived's header.
			oh := advertHeader(src, dst, len(msg))
			oh.ID = h.ID
			hb, err := oh.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			binary.BigEndian.PutUint16(hb[10:], ipChecksum(hb))
			if !bytes.Equal(hb, pkt[:h.Len]) {
				t.Fatalf("IP header %x\nwant      %x", hb, pkt[:h.Len])
			}
		})
	}
	if seen != len(frames)-1 { // all but the GARP capture
		t.Errorf("tested %d of %d advert captures", seen, len(frames)-1)
	}
}

func ipChecksum(b []byte) uint16 {
	var sum uint32
	for i := 0; i+1 < len(b); i += 2 {
		sum += uint32(binary.BigEndian.Uint16(b[i:]))
	}
	for sum > 0xffff {
		sum = sum>>16 + sum&0xffff
	}
	return ^uint16(sum)
}

func advertEqual(a, b Advert) bool {
	return a.Version == b.Version && a.VRID == b.VRID && a.Priority == b.Priority &&
		a.Interval == b.Interval && a.AuthType == b.AuthType && a.AuthData == b.AuthData &&
		a.Checksum == b.Checksum && slicesEqual(a.Addrs, b.Addrs)
}

func slicesEqual(a, b []netip.Addr) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestV3ChecksumNeedsPseudoHeader pins the v3 unicast rule from the
// golden notes: the pseudo-header destination is the peer's address, so
// the same message checked against the multicast group fails.
func TestV3ChecksumNeedsPseudoHeader(t *testing.T) {
	msg := mustHex(t, "31339601 00641718 0ac80064")
	src := netip.MustParseAddr("10.200.0.11")
	if _, err := ParseAdvert(msg, src, netip.MustParseAddr("10.200.0.12")); err != nil {
		t.Fatalf("unicast checksum: %v", err)
	}
	_, err := ParseAdvert(msg, src, Group4)
	if DropReasonOf(err) != DropChecksum {
		t.Fatalf("against the group address: %v, want a checksum drop", err)
	}
}

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseAdvertRejects(t *testing.T) {
	src4, grp := netip.MustParseAddr("10.0.0.1"), Group4
	good := Advert{Version: 3, VRID: 7, Priority: 100, Interval: time.Second,
		Addrs: []netip.Addr{netip.MustParseAddr("10.0.0.100"), netip.MustParseAddr("10.0.0.101")}}
	goodMsg, err := good.Marshal(src4, grp)
	if err != nil {
		t.Fatal(err)
	}
	mut := func(f func(b []byte) []byte) []byte {
		b := bytes.Clone(goodMsg)
		return f(b)
	}
	// fix recomputes the checksum so only the intended defect remains.
	fix := func(b []byte) []byte {
		b[6], b[7] = 0, 0
		binary.BigEndian.PutUint16(b[6:], checksum(b[0]>>4, b, src4, grp))
		return b
	}
	tests := []struct {
		name string
		msg  []byte
		want DropReason
	}{
		{"empty", nil, DropLength},
		{"short header", goodMsg[:7], DropLength},
		{"version 1", mut(func(b []byte) []byte { b[0] = 0x11; return fix(b) }), DropVersion},
		{"version 4", mut(func(b []byte) []byte { b[0] = 0x41; return fix(b) }), DropVersion},
		{"type 2", mut(func(b []byte) []byte { b[0] = 0x32; return fix(b) }), DropType},
		{"vrid 0", mut(func(b []byte) []byte { b[1] = 0; return fix(b) }), DropVRID},
		{"count 0", mut(func(b []byte) []byte { b[3] = 0; return fix(b) }), DropAddrCount},
		{"count too high", mut(func(b []byte) []byte { b[3] = 3; return fix(b) }), DropLength},
		{"count too low", mut(func(b []byte) []byte { b[3] = 1; return fix(b) }), DropLength},
		{"trailing byte", mut(func(b []byte) []byte { return append(b, 0) }), DropLength},
		{"interval 0", mut(func(b []byte) []byte { b[4], b[5] = 0, 0; return fix(b) }), DropInterval},
		{"bad checksum", mut(func(b []byte) []byte { b[7] ^= 1; return b }), DropChecksum},
		{"bit flip in address", mut(func(b []byte) []byte { b[9] ^= 0x10; return b }), DropChecksum},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseAdvert(tt.msg, src4, grp)
			var de *DropError
			if !errors.As(err, &de) || de.Reason != tt.want {
				t.Fatalf("got %v, want a %v drop", err, tt.want)
			}
		})
	}
	if _, err := ParseAdvert(goodMsg, src4, grp); err != nil {
		t.Fatalf("good message: %v", err)
	}
}

func TestV3ReservedBitsIgnored(t *testing.T) {
	src := netip.MustParseAddr("10.0.0.1")
	a := Advert{Version: 3, VRID: 1, Priority: 1, Interval: 50 * time.Millisecond, Addrs: []netip.Addr{netip.MustParseAddr("10.0.0.9")}}
	b, _ := a.Marshal(src, Group4)
	b[4] |= 0xf0
	b[6], b[7] = 0, 0
	binary.BigEndian.PutUint16(b[6:], checksum(3, b, src, Group4))
	got, err := ParseAdvert(b, src, Group4)
	if err != nil || got.Interval != 50*time.Millisecond {
		t.Fatalf("got %v interval %v, want 50ms and no error", err, got.Interval)
	}
}

func TestIPv6RoundTrip(t *testing.T) {
	src := netip.MustParseAddr("fe80::1")
	a := Advert{Version: 3, VRID: 9, Priority: 200, Interval: 20 * time.Millisecond,
		Addrs: []netip.Addr{netip.MustParseAddr("fe80::100"), netip.MustParseAddr("2001:db8::100")}}
	b, err := a.Marshal(src, Group6)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) != 8+32 {
		t.Fatalf("length %d, want 40", len(b))
	}
	got, err := ParseAdvert(b, src, Group6)
	if err != nil {
		t.Fatal(err)
	}
	a.Checksum = got.Checksum
	if !advertEqual(got, a) {
		t.Fatalf("got %+v, want %+v", got, a)
	}
	if _, err := ParseAdvert(b, netip.MustParseAddr("fe80::2"), Group6); DropReasonOf(err) != DropChecksum {
		t.Fatalf("other source: %v, want checksum drop", err)
	}
}

func TestMarshalRejects(t *testing.T) {
	s4, d4 := netip.MustParseAddr("10.0.0.1"), Group4
	v4 := []netip.Addr{netip.MustParseAddr("10.0.0.100")}
	tests := []struct {
		name string
		a    Advert
		src  netip.Addr
	}{
		{"version 1", Advert{Version: 1, VRID: 1, Interval: time.Second, Addrs: v4}, s4},
		{"vrid 0", Advert{Version: 3, VRID: 0, Interval: time.Second, Addrs: v4}, s4},
		{"no addresses", Advert{Version: 3, VRID: 1, Interval: time.Second}, s4},
		{"mixed families", Advert{Version: 3, VRID: 1, Interval: time.Second, Addrs: append(v4, netip.MustParseAddr("::1"))}, s4},
		{"v2 fractional", Advert{Version: 2, VRID: 1, Interval: 1500 * time.Millisecond, Addrs: v4}, s4},
		{"v2 too long", Advert{Version: 2, VRID: 1, Interval: 256 * time.Second, Addrs: v4}, s4},
		{"v3 5ms", Advert{Version: 3, VRID: 1, Interval: 5 * time.Millisecond, Addrs: v4}, s4},
		{"v3 41s", Advert{Version: 3, VRID: 1, Interval: 41 * time.Second, Addrs: v4}, s4},
		{"v2 over IPv6", Advert{Version: 2, VRID: 1, Interval: time.Second, Addrs: []netip.Addr{netip.MustParseAddr("fe80::1")}}, netip.MustParseAddr("fe80::2")},
		{"source family", Advert{Version: 3, VRID: 1, Interval: time.Second, Addrs: v4}, netip.MustParseAddr("fe80::2")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dst := d4
			if tt.src.Is6() {
				dst = Group6
			}
			if b, err := tt.a.Marshal(tt.src, dst); err == nil {
				t.Fatalf("encoded %x, want an error", b)
			}
		})
	}
}
