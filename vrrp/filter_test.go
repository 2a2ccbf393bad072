package vrrp

import (
	"net/netip"
	"testing"
	"time"
)

func TestFilterCheck(t *testing.T) {
	src, dst := netip.MustParseAddr("10.0.0.2"), Group4
	vips := []netip.Addr{netip.MustParseAddr("10.0.0.100"), netip.MustParseAddr("10.0.0.101")}
	v2 := Filter{Version: 2, VRID: 51, AuthType: AuthPass, AuthData: PassData("s3cr3t"), Interval: time.Second, Addrs: vips}
	v3 := Filter{Version: 3, VRID: 51, Interval: time.Second, Addrs: vips}

	adv := func(mod func(a *Advert)) Advert {
		a := Advert{Version: 2, VRID: 51, Priority: 100, Interval: time.Second, Addrs: vips,
			AuthType: AuthPass, AuthData: PassData("s3cr3t")}
		if mod != nil {
			mod(&a)
		}
		return a
	}
	v3adv := func(mod func(a *Advert)) Advert {
		return adv(func(a *Advert) {
			a.Version, a.AuthType, a.AuthData = 3, 0, [8]byte{}
			if mod != nil {
				mod(a)
			}
		})
	}
	withPeers := v3
	withPeers.Peers = []netip.Addr{netip.MustParseAddr("10.0.0.3")}
	anyTTL := withPeers
	anyTTL.AnyTTL = true
	anyTTL.Peers = []netip.Addr{src}
	local := v3
	local.Local = func(a netip.Addr) bool { return a == src }
	onIf := v3
	onIf.IfIndex = 4

	tests := []struct {
		name   string
		f      Filter
		a      Advert
		ttl    int
		ifx    int
		want   DropReason
		wantOK bool
	}{
		{name: "v2 good", f: v2, a: adv(nil), wantOK: true},
		{name: "v3 good", f: v3, a: v3adv(nil), wantOK: true},
		{name: "v3 other interval accepted", f: v3, a: v3adv(func(a *Advert) { a.Interval = 2 * time.Second }), wantOK: true},
		{name: "v3 addresses in another order", f: v3, a: v3adv(func(a *Advert) { a.Addrs = []netip.Addr{vips[1], vips[0]} }), wantOK: true},
		{name: "ttl 254", f: v3, a: v3adv(nil), ttl: 254, want: DropTTL},
		{name: "ttl 1", f: v2, a: adv(nil), ttl: 1, want: DropTTL},
		{name: "v2 to v3 router", f: v3, a: adv(nil), want: DropVersion},
		{name: "v3 to v2 router", f: v2, a: v3adv(nil), want: DropVersion},
		{name: "other vrid", f: v3, a: v3adv(func(a *Advert) { a.VRID = 52 }), want: DropVRID},
		{name: "fewer addresses", f: v3, a: v3adv(func(a *Advert) { a.Addrs = vips[:1] }), want: DropAddrCount},
		{name: "other address", f: v3, a: v3adv(func(a *Advert) { a.Addrs = []netip.Addr{vips[0], netip.MustParseAddr("10.0.0.9")} }), want: DropAddrList},
		{name: "no auth to PASS router", f: v2, a: adv(func(a *Advert) { a.AuthType, a.AuthData = AuthNone, [8]byte{} }), want: DropAuthType},
		{name: "AH", f: Filter{Version: 2, VRID: 51, AuthType: AuthAH, Interval: time.Second, Addrs: vips}, a: adv(func(a *Advert) { a.AuthType = AuthAH }), want: DropAuthType},
		{name: "wrong password", f: v2, a: adv(func(a *Advert) { a.AuthData = PassData("s3cr3u") }), want: DropAuthData},
		{name: "password is all 8 bytes", f: v2, a: adv(func(a *Advert) { a.AuthData = PassData("s3cr3t\x00x") }), want: DropAuthData},
		{name: "v2 interval mismatch", f: v2, a: adv(func(a *Advert) { a.Interval = 2 * time.Second }), want: DropInterval},
		{name: "own address", f: local, a: v3adv(nil), want: DropOwnAddress},
		{name: "not a peer", f: withPeers, a: v3adv(nil), want: DropNotPeer},
		{name: "unicast any ttl", f: anyTTL, a: v3adv(nil), ttl: 64, wantOK: true},
		{name: "other interface", f: onIf, a: v3adv(nil), ifx: 5, want: DropInterface},
		{name: "same interface", f: onIf, a: v3adv(nil), ifx: 4, wantOK: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msg, err := tt.a.Marshal(src, dst)
			if err != nil {
				t.Fatal(err)
			}
			ttl := tt.ttl
			if ttl == 0 {
				ttl = TTL
			}
			got, err := tt.f.Check(Received{Src: src, Dst: dst, TTL: ttl, IfIndex: tt.ifx, Msg: msg})
			if tt.wantOK {
				if err != nil {
					t.Fatalf("dropped: %v", err)
				}
				if got.Priority != 100 {
					t.Fatalf("priority %d, want 100", got.Priority)
				}
				return
			}
			if DropReasonOf(err) != tt.want {
				t.Fatalf("got %v, want a %v drop", err, tt.want)
			}
		})
	}
}

func TestDropReasonNames(t *testing.T) {
	seen := map[string]bool{}
	for r := DropReason(0); r < numDropReasons; r++ {
		n := r.String()
		if n == "" || seen[n] {
			t.Fatalf("reason %d has name %q (empty or repeated)", r, n)
		}
		seen[n] = true
	}
	if DropReason(200).String() != "reason200" {
		t.Fatalf("unknown reason name %q", DropReason(200).String())
	}
}
