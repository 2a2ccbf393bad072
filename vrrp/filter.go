package vrrp

import (
	"net/netip"
	"slices"
	"time"
)

// Received is a packet as the socket hands it over: the VRRP message and
// the IP facts the checks need.
type Received struct {
	Src, Dst netip.Addr
	TTL      int // IPv4 TTL or IPv6 hop limit
	IfIndex  int // interface it arrived on; 0 if unknown
	Msg      []byte
	At       time.Time
}

// Filter applies RFC 3768 / RFC 5798 section 7.1 receive checks for one
// virtual router. It is pure: the caller counts and logs the result.
type Filter struct {
	Version  uint8
	VRID     uint8
	AuthType AuthType // v2
	AuthData [authLen]byte
	Interval time.Duration // v2: must match exactly
	Addrs    []netip.Addr  // our virtual addresses (as advertised)
	IfIndex  int           // 0: do not check
	// Local reports whether an address belongs to this node; adverts from
	// it are our own, looped back. Nil: no check.
	Local func(netip.Addr) bool
	// Peers, when set (unicast mode), are the only accepted sources.
	Peers []netip.Addr
	// AnyTTL skips the TTL check (unicast across routers, as keepalived
	// does for unicast peers). Off by default.
	AnyTTL bool
}

// Check validates r and returns the decoded advert, or a *DropError.
func (f *Filter) Check(r Received) (Advert, error) {
	if !f.AnyTTL && r.TTL != TTL {
		return Advert{}, drop(DropTTL, "ttl %d from %v, want %d", r.TTL, r.Src, TTL)
	}
	if f.IfIndex != 0 && r.IfIndex != 0 && r.IfIndex != f.IfIndex {
		return Advert{}, drop(DropInterface, "from %v on interface index %d, want %d", r.Src, r.IfIndex, f.IfIndex)
	}
	a, err := ParseAdvert(r.Msg, r.Src, r.Dst)
	if err != nil {
		return a, err
	}
	if a.Version != f.Version {
		return a, drop(DropVersion, "version %d from %v, we run %d", a.Version, r.Src, f.Version)
	}
	if a.VRID != f.VRID {
		return a, drop(DropVRID, "vrid %d from %v, ours is %d", a.VRID, r.Src, f.VRID)
	}
	if len(a.Addrs) != len(f.Addrs) {
		return a, drop(DropAddrCount, "%d addresses from %v, we have %d", len(a.Addrs), r.Src, len(f.Addrs))
	}
	if a.Version == 2 {
		if a.AuthType != f.AuthType {
			return a, drop(DropAuthType, "auth type %d from %v, ours is %d", a.AuthType, r.Src, f.AuthType)
		}
		if a.AuthType == AuthAH {
			return a, drop(DropAuthType, "IPsec AH authentication from %v is not supported", r.Src)
		}
		if a.AuthType == AuthPass && a.AuthData != f.AuthData {
			return a, drop(DropAuthData, "wrong password from %v", r.Src)
		}
		if a.Interval != f.Interval {
			// RFC 3768 7.1: MUST verify; keepalived drops too, so two
			// routers that disagree never both stay backup on our account.
			return a, drop(DropInterval, "interval %v from %v, ours is %v", a.Interval, r.Src, f.Interval)
		}
	}
	for _, want := range f.Addrs {
		if !slices.Contains(a.Addrs, want) {
			return a, drop(DropAddrList, "advert from %v lacks our address %v", r.Src, want)
		}
	}
	if f.Local != nil && f.Local(r.Src) {
		return a, drop(DropOwnAddress, "advert from our own address %v", r.Src)
	}
	if len(f.Peers) > 0 && !slices.Contains(f.Peers, r.Src) {
		return a, drop(DropNotPeer, "advert from %v, not a unicast peer", r.Src)
	}
	return a, nil
}

// DropReasonOf extracts the drop reason from an error returned by ParseAdvert or
// Filter.Check (DropNone for nil or other errors).
func DropReasonOf(err error) DropReason {
	if de, ok := err.(*DropError); ok {
		return de.Reason
	}
	return DropNone
}
