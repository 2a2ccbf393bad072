package vrrp

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"time"
)

// Protocol is the IP protocol number of VRRP.
const Protocol = 112

// Wire constants shared by v2 (RFC 3768) and v3 (RFC 5798).
const (
	typeAdvert = 1
	headerLen  = 8 // version/type, vrid, priority, count, 2 bytes (auth+interval or interval), checksum
	authLen    = 8 // v2 authentication data
	// TTL is the IPv4 TTL / IPv6 hop limit every VRRP packet is sent with
	// and must arrive with.
	TTL = 255
	// TOS is the IPv4 type of service / IPv6 traffic class of adverts
	// (Internetwork Control, as keepalived sends).
	TOS = 0xc0
)

// Multicast groups VRRP adverts go to.
var (
	Group4 = netip.MustParseAddr("224.0.0.18")
	Group6 = netip.MustParseAddr("ff02::12")
)

// AuthType is the VRRPv2 authentication type (RFC 2338; RFC 3768 keeps the
// field and keepalived still sends simple-text passwords).
type AuthType uint8

const (
	AuthNone AuthType = 0
	AuthPass AuthType = 1 // simple text password, 8 bytes NUL padded
	AuthAH   AuthType = 2 // IPsec AH: recognised, never accepted
)

// Advert is a VRRP advertisement, v2 or v3, IPv4 or IPv6.
type Advert struct {
	Version  uint8 // 2 or 3
	VRID     uint8
	Priority uint8
	// Interval is the advertisement interval: whole seconds (1-255) in v2,
	// centiseconds (1-4095) in v3.
	Interval time.Duration
	Addrs    []netip.Addr
	// v2 only.
	AuthType AuthType
	AuthData [authLen]byte
	// Checksum as found on the wire; Marshal computes its own.
	Checksum uint16
}

// Len is the length of the encoded message in bytes.
func (a *Advert) Len() int {
	n := headerLen
	for _, ip := range a.Addrs {
		n += ip.BitLen() / 8
	}
	if a.Version == 2 {
		n += authLen
	}
	return n
}

// Marshal encodes the advert as sent from src to dst. The v3 checksum covers
// the IP pseudo-header, so src and dst must be the addresses the packet
// carries: the group address, or the peer's address in unicast mode.
func (a *Advert) Marshal(src, dst netip.Addr) ([]byte, error) {
	return a.AppendMarshal(nil, src, dst)
}

// AppendMarshal is Marshal appending to b.
func (a *Advert) AppendMarshal(b []byte, src, dst netip.Addr) ([]byte, error) {
	if err := a.check(src, dst); err != nil {
		return b, err
	}
	start := len(b)
	b = append(b, a.Version<<4|typeAdvert, a.VRID, a.Priority, uint8(len(a.Addrs)))
	if a.Version == 2 {
		b = append(b, uint8(a.AuthType), uint8(a.Interval/time.Second))
	} else {
		b = binary.BigEndian.AppendUint16(b, uint16(a.Interval/(10*time.Millisecond)))
	}
	b = append(b, 0, 0) // checksum
	for _, ip := range a.Addrs {
		b = append(b, ip.AsSlice()...)
	}
	if a.Version == 2 {
		b = append(b, a.AuthData[:]...)
	}
	msg := b[start:]
	binary.BigEndian.PutUint16(msg[6:], checksum(a.Version, msg, src, dst))
	return b, nil
}

func (a *Advert) check(src, dst netip.Addr) error {
	if a.Version != 2 && a.Version != 3 {
		return fmt.Errorf("vrrp: version %d: not 2 or 3", a.Version)
	}
	if a.VRID == 0 {
		return fmt.Errorf("vrrp: vrid 0 is not valid")
	}
	if len(a.Addrs) == 0 || len(a.Addrs) > 255 {
		return fmt.Errorf("vrrp: %d addresses: need 1 to 255", len(a.Addrs))
	}
	is6 := a.Addrs[0].Is6()
	for _, ip := range a.Addrs {
		if !ip.IsValid() || ip.Is4In6() || ip.Is6() != is6 {
			return fmt.Errorf("vrrp: address %v: all addresses must be of one family", ip)
		}
	}
	if src.Is6() != is6 || dst.Is6() != is6 || !src.IsValid() || !dst.IsValid() {
		return fmt.Errorf("vrrp: source %v and destination %v must be of the addresses' family", src, dst)
	}
	switch a.Version {
	case 2:
		if is6 {
			return fmt.Errorf("vrrp: version 2 is IPv4 only")
		}
		if a.Interval%time.Second != 0 || a.Interval < time.Second || a.Interval > 255*time.Second {
			return fmt.Errorf("vrrp: v2 interval %v: must be whole seconds, 1s to 255s", a.Interval)
		}
	case 3:
		if a.Interval%(10*time.Millisecond) != 0 || a.Interval < 10*time.Millisecond || a.Interval > 4095*10*time.Millisecond {
			return fmt.Errorf("vrrp: v3 interval %v: must be whole centiseconds, 10ms to 40.95s", a.Interval)
		}
	}
	return nil
}

// ParseAdvert decodes and checks a VRRP message received from src to dst
// (the IP header's addresses). It checks what the message alone can tell:
// version, type, length against the address count, interval range and the
// checksum. Checks against the local configuration (VRID, auth, interval,
// addresses) are Filter's job. The error is a *DropError.
func ParseAdvert(msg []byte, src, dst netip.Addr) (Advert, error) {
	var a Advert
	if len(msg) < headerLen {
		return a, drop(DropLength, "message of %d bytes is shorter than the %d byte header", len(msg), headerLen)
	}
	a.Version = msg[0] >> 4
	if a.Version != 2 && a.Version != 3 {
		return a, drop(DropVersion, "version %d", a.Version)
	}
	if t := msg[0] & 0x0f; t != typeAdvert {
		return a, drop(DropType, "type %d is not an advertisement", t)
	}
	is6 := src.Is6() && !src.Is4In6()
	if a.Version == 2 && is6 {
		return a, drop(DropVersion, "version 2 over IPv6")
	}
	a.VRID = msg[1]
	a.Priority = msg[2]
	count := int(msg[3])
	if a.VRID == 0 {
		return a, drop(DropVRID, "vrid 0")
	}
	if count == 0 {
		return a, drop(DropAddrCount, "no addresses")
	}
	alen := 4
	if is6 {
		alen = 16
	}
	want := headerLen + count*alen
	if a.Version == 2 {
		want += authLen
	}
	if len(msg) != want {
		return a, drop(DropLength, "%d bytes for %d addresses, want %d", len(msg), count, want)
	}
	if a.Version == 2 {
		a.AuthType = AuthType(msg[4])
		a.Interval = time.Duration(msg[5]) * time.Second
		copy(a.AuthData[:], msg[len(msg)-authLen:])
	} else {
		raw := binary.BigEndian.Uint16(msg[4:6])
		if raw&0xf000 != 0 {
			// RFC 5798 5.2.5: reserved bits MUST be zero when sent and
			// SHOULD be ignored when received.
			raw &= 0x0fff
		}
		a.Interval = time.Duration(raw) * 10 * time.Millisecond
	}
	if a.Interval == 0 {
		return a, drop(DropInterval, "advertisement interval 0")
	}
	a.Checksum = binary.BigEndian.Uint16(msg[6:8])
	if c := checksum(a.Version, msg, src, dst); c != 0 {
		// Summing a message with a correct checksum in place yields 0.
		return a, drop(DropChecksum, "checksum 0x%04x does not verify (from %v to %v)", a.Checksum, src, dst)
	}
	a.Addrs = make([]netip.Addr, count)
	for i := range count {
		off := headerLen + i*alen
		if is6 {
			a.Addrs[i] = netip.AddrFrom16([16]byte(msg[off : off+16]))
		} else {
			a.Addrs[i] = netip.AddrFrom4([4]byte(msg[off : off+4]))
		}
	}
	return a, nil
}

// checksum is the Internet checksum of msg; for v3 it includes the IPv4 or
// IPv6 pseudo-header of src and dst (RFC 5798 5.2.8). Over a message whose
// checksum field is zero it gives the value to put there; over a received
// message it gives 0 when the checksum is right.
func checksum(version uint8, msg []byte, src, dst netip.Addr) uint16 {
	var sum uint32
	if version == 3 {
		s, d := src.AsSlice(), dst.AsSlice()
		sum = sumBytes(sum, s)
		sum = sumBytes(sum, d)
		if len(s) == 4 {
			sum += Protocol + uint32(len(msg))
		} else {
			sum += uint32(len(msg)>>16) + uint32(len(msg)&0xffff) + Protocol
		}
	}
	sum = sumBytes(sum, msg)
	for sum > 0xffff {
		sum = sum>>16 + sum&0xffff
	}
	return ^uint16(sum)
}

func sumBytes(sum uint32, b []byte) uint32 {
	for len(b) >= 2 {
		sum += uint32(b[0])<<8 | uint32(b[1])
		b = b[2:]
	}
	if len(b) == 1 {
		sum += uint32(b[0]) << 8
	}
	return sum
}

// PassData is the 8-byte v2 authentication data for password pass: the
// first 8 bytes, NUL padded, as keepalived uses it.
func PassData(pass string) [authLen]byte {
	var d [authLen]byte
	copy(d[:], pass)
	return d
}
