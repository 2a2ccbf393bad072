package vrrp

import (
	"bytes"
	"net/netip"
	"testing"

	"golang.org/x/net/ipv4"
)

// FuzzParseAdvert feeds arbitrary messages to the decoder and the receive
// filter. Whatever decodes must re-encode to the same bytes (reserved bits
// aside) and decode again to the same advert; nothing may panic.
func FuzzParseAdvert(f *testing.F) {
	for _, frame := range goldenFramesF(f) {
		h, err := ipv4.ParseHeader(frame[14:])
		if err != nil || h.Protocol != Protocol {
			continue
		}
		f.Add(frame[14+h.Len:14+h.TotalLen], uint8(0))
		f.Add(frame[14+h.Len:14+h.TotalLen], uint8(2))
	}
	src6 := netip.MustParseAddr("fe80::1")
	a6 := Advert{Version: 3, VRID: 1, Priority: 100, Interval: 1000e6, Addrs: []netip.Addr{netip.MustParseAddr("fe80::64")}}
	b6, _ := a6.Marshal(src6, Group6)
	f.Add(b6, uint8(1))

	f.Fuzz(func(t *testing.T, msg []byte, sel uint8) {
		var src, dst netip.Addr
		switch sel % 3 {
		case 0:
			src, dst = netip.MustParseAddr("10.200.0.11"), Group4
		case 1:
			src, dst = src6, Group6
		default:
			src, dst = netip.MustParseAddr("10.200.0.11"), netip.MustParseAddr("10.200.0.12")
		}
		a, err := ParseAdvert(msg, src, dst)
		if err != nil {
			if DropReasonOf(err) == DropNone {
				t.Fatalf("error without a drop reason: %v", err)
			}
			return
		}
		enc, err := a.Marshal(src, dst)
		if err != nil {
			t.Fatalf("decoded advert %+v does not encode: %v", a, err)
		}
		if a.Version == 3 {
			// Reserved bits are dropped on decode; compare without them.
			msg = bytes.Clone(msg)
			if msg[4]&0xf0 != 0 {
				a.Checksum = 0 // compared below through the bytes
				msg[4] &= 0x0f
				msg[6], msg[7] = 0, 0
				c := checksum(3, msg, src, dst)
				msg[6], msg[7] = byte(c>>8), byte(c)
			}
		}
		if !bytes.Equal(enc, msg) {
			t.Fatalf("re-encoded %x\nfrom      %x", enc, msg)
		}
		b, err := ParseAdvert(enc, src, dst)
		if a.Checksum == 0 {
			a.Checksum = b.Checksum
		}
		if err != nil || !advertEqual(a, b) {
			t.Fatalf("second decode: %+v, %v; first %+v", b, err, a)
		}
		flt := Filter{Version: a.Version, VRID: a.VRID, AuthType: a.AuthType, AuthData: a.AuthData,
			Interval: a.Interval, Addrs: a.Addrs}
		_, err = flt.Check(Received{Src: src, Dst: dst, TTL: TTL, Msg: enc})
		if wantErr := a.Version == 2 && a.AuthType == AuthAH; (err != nil) != wantErr {
			t.Fatalf("filter built from the advert: %v (want an error: %v)", err, wantErr)
		}
	})
}

func goldenFramesF(f *testing.F) map[string][]byte { return goldenFrames(f) }
