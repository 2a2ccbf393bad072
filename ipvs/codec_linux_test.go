package ipvs

import (
	"encoding/binary"
	"errors"
	"net/netip"
	"testing"

	"golang.org/x/sys/unix"
)

// kernelService builds a service message the way the kernel's
// ip_vs_genl_fill_service does: a 16-byte address, the port in network
// order, flags with HASHED set, the netmask as raw bytes, both stats.
func kernelServiceMsg(s Service, rawMask []byte, st Counters) []byte {
	var a attrs
	a.nest(cmdAttrService, func(a *attrs) {
		a.u16(svcAttrAF, uint16(s.Family))
		if s.IsFWMark() {
			a.u32(svcAttrFWMark, s.FWMark)
		} else {
			a.u16(svcAttrProtocol, uint16(s.Protocol))
			a16 := s.Addr.Addr().As16()
			if s.Family == IPv4 {
				a4 := s.Addr.Addr().As4()
				a16 = [16]byte{}
				copy(a16[:], a4[:])
			}
			a.put(svcAttrAddr, a16[:])
			a.be16(svcAttrPort, s.Addr.Port())
		}
		a.str(svcAttrSchedName, s.Scheduler)
		fl := native.AppendUint32(nil, serviceFlags(s)|svcFlagHashed)
		a.put(svcAttrFlags, native.AppendUint32(fl, ^uint32(0)))
		a.u32(svcAttrTimeout, s.Persistence)
		a.put(svcAttrNetmask, rawMask)
		a.nest(svcAttrStats, func(a *attrs) {
			a.u32(statsAttrConns, uint32(st.Conns))
			a.put(statsAttrInBytes, native.AppendUint64(nil, st.BytesIn))
		})
		a.nest(svcAttrStats64, func(a *attrs) {
			a.put(statsAttrConns, native.AppendUint64(nil, st.Conns))
			a.put(statsAttrInBytes, native.AppendUint64(nil, st.BytesIn))
			a.put(statsAttrOutPkts, native.AppendUint64(nil, st.PacketsOut))
		})
	})
	return a.b
}

func TestParseServiceAsTheKernelSendsIt(t *testing.T) {
	be := func(m uint32) []byte { return binary.BigEndian.AppendUint32(nil, m) }
	tests := []struct {
		name string
		in   Service
		mask []byte
		want Service
	}{
		{"plain v4", Service{ServiceKey: tcp("10.0.0.1:80"), Scheduler: "wrr"}, be(0xffffffff),
			Service{ServiceKey: tcp("10.0.0.1:80"), Scheduler: "wrr"}},
		{"persistent /24", Service{ServiceKey: tcp("10.0.0.1:443"), Scheduler: "sh", SchedFlags: SchedFlags{true, true}, Persistence: 300}, be(0xffffff00),
			Service{ServiceKey: tcp("10.0.0.1:443"), Scheduler: "sh", SchedFlags: SchedFlags{true, true}, Persistence: 300, PersistenceMask: 24}},
		{"persistent full", Service{ServiceKey: tcp("10.0.0.1:443"), Scheduler: "rr", Persistence: 60}, be(0xffffffff),
			Service{ServiceKey: tcp("10.0.0.1:443"), Scheduler: "rr", Persistence: 60}},
		{"persistent /0 is not expressible", Service{ServiceKey: tcp("10.0.0.1:443"), Scheduler: "rr", Persistence: 60}, be(0),
			Service{ServiceKey: tcp("10.0.0.1:443"), Scheduler: "rr", Persistence: 60, PersistenceMask: -1}},
		{"non-contiguous", Service{ServiceKey: tcp("10.0.0.1:443"), Scheduler: "rr", Persistence: 60}, be(0xff00ff00),
			Service{ServiceKey: tcp("10.0.0.1:443"), Scheduler: "rr", Persistence: 60, PersistenceMask: -1}},
		{"v6 udp one-packet /64", Service{ServiceKey: AddrKey(UDP, ap("[2001:db8::1]:53")), Scheduler: "mh", OnePacket: true, Persistence: 10}, native.AppendUint32(nil, 64),
			Service{ServiceKey: AddrKey(UDP, ap("[2001:db8::1]:53")), Scheduler: "mh", OnePacket: true, Persistence: 10, PersistenceMask: 64}},
		{"v6 full", Service{ServiceKey: tcp("[2001:db8::1]:80"), Scheduler: "rr", Persistence: 10}, native.AppendUint32(nil, 128),
			Service{ServiceKey: tcp("[2001:db8::1]:80"), Scheduler: "rr", Persistence: 10}},
		{"fwmark v6", Service{ServiceKey: MarkKey(9, IPv6), Scheduler: "lc"}, native.AppendUint32(nil, 128),
			Service{ServiceKey: MarkKey(9, IPv6), Scheduler: "lc"}},
		{"mask ignored without persistence", Service{ServiceKey: tcp("10.0.0.1:80"), Scheduler: "rr"}, be(0xffff0000),
			Service{ServiceKey: tcp("10.0.0.1:80"), Scheduler: "rr"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st := Counters{Conns: 1 << 40, BytesIn: 12345, PacketsOut: 7}
			got, gst, err := parseServiceMsg(kernelServiceMsg(tc.in, tc.mask, st))
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("got %+v\nwant %+v", got, tc.want)
			}
			if gst != st {
				t.Errorf("stats %+v, want the 64-bit ones %+v", gst, st)
			}
		})
	}
}

func TestNetmaskValueMatchesTheKernelLayout(t *testing.T) {
	tests := []struct {
		s    Service
		want []byte // the attribute's bytes on the wire
	}{
		{Service{ServiceKey: tcp("10.0.0.1:80")}, []byte{255, 255, 255, 255}},
		{Service{ServiceKey: tcp("10.0.0.1:80"), Persistence: 1, PersistenceMask: 24}, []byte{255, 255, 255, 0}},
		{Service{ServiceKey: tcp("10.0.0.1:80"), Persistence: 1, PersistenceMask: 1}, []byte{128, 0, 0, 0}},
		{Service{ServiceKey: tcp("[2001:db8::1]:80")}, native.AppendUint32(nil, 128)},
		{Service{ServiceKey: MarkKey(1, IPv6), Persistence: 1, PersistenceMask: 48}, native.AppendUint32(nil, 48)},
	}
	for _, tc := range tests {
		got := native.AppendUint32(nil, netmaskValue(tc.s))
		if string(got) != string(tc.want) {
			t.Errorf("%s /%d: %v, want %v", tc.s.ServiceKey, tc.s.PersistenceMask, got, tc.want)
		}
		if back := maskBits(tc.s.Family, got); back != kernelService(tc.s).PersistenceMask {
			t.Errorf("%s: mask %v reads back as %d", tc.s.ServiceKey, got, back)
		}
	}
}

func TestEncodeParseRoundTrip(t *testing.T) {
	for _, s := range []Service{
		{ServiceKey: tcp("10.0.0.1:80"), Scheduler: "wrr"},
		{ServiceKey: AddrKey(SCTP, ap("[2001:db8::5]:3868")), Scheduler: "sh", SchedFlags: SchedFlags{Port: true}, Persistence: 30, PersistenceMask: 56},
		{ServiceKey: MarkKey(77, IPv4), Scheduler: "rr", OnePacket: true},
	} {
		var a attrs
		serviceFull(&a, s)
		got, _, err := parseServiceMsg(a.b)
		if err != nil || got != s {
			t.Errorf("round trip of %+v: %+v, %v", s, got, err)
		}
	}
	for _, d := range []Destination{
		{Addr: ap("10.0.1.2:8080"), Forward: NAT, Weight: 65535, UpperThreshold: 10, LowerThreshold: 5},
		{Addr: ap("[2001:db8::2]:80"), Forward: Tunnel, Weight: 1, TunnelType: TunnelGUE, TunnelPort: 6080, TunnelChecksum: TunnelRemCsum},
		{Addr: ap("10.0.1.3:0"), Forward: DR},
	} {
		var a attrs
		destFull(&a, d)
		got, err := parseDestMsg(a.b, IPv4)
		if err != nil || got != d {
			t.Errorf("round trip of %+v: %+v, %v", d, got, err)
		}
	}
	d := Daemon{State: DaemonBackup, Interface: "eth1", SyncID: 9, MaxLen: 1400, Group: netip.MustParseAddr("ff02::81"), Port: 8849, TTL: 3}
	var a attrs
	daemonAttrs(&a, d)
	if got, err := parseDaemonMsg(a.b); err != nil || got != d {
		t.Errorf("daemon round trip: %+v, %v", got, err)
	}
}

func TestParseDestCountersAndOldKernels(t *testing.T) {
	var a attrs
	a.nest(cmdAttrDest, func(a *attrs) {
		v := [16]byte{10, 0, 1, 2} // no family attribute: an old kernel
		a.put(destAttrAddr, v[:])
		a.be16(destAttrPort, 80)
		a.u32(destAttrFwdMethod, 3|0x100) // DR plus a flag outside the method mask
		a.u32(destAttrWeight, 4)
		a.u32(destAttrActiveConns, 5)
		a.u32(destAttrInactConns, 6)
		a.u32(destAttrPersistConns, 7)
		a.nest(destAttrStats, func(a *attrs) { a.u32(statsAttrConns, 99) })
	})
	d, err := parseDestMsg(a.b, IPv4)
	if err != nil {
		t.Fatal(err)
	}
	want := Destination{Addr: ap("10.0.1.2:80"), Forward: DR, Weight: 4,
		Stats: Counters{ActiveConns: 5, InactiveConns: 6, PersistentConns: 7, Conns: 99}}
	if d != want {
		t.Errorf("got %+v\nwant %+v", d, want)
	}
}

// serviceFull writes a whole service as IPVS_CMD_NEW_SERVICE takes it
// (lvsd writes services through moby/ipvs; this checks the layout).
func serviceFull(a *attrs, s Service) {
	a.nest(cmdAttrService, func(a *attrs) {
		a.u16(svcAttrAF, uint16(s.Family))
		if s.IsFWMark() {
			a.u32(svcAttrFWMark, s.FWMark)
		} else {
			a.u16(svcAttrProtocol, uint16(s.Protocol))
			a.put(svcAttrAddr, s.Addr.Addr().AsSlice())
			a.be16(svcAttrPort, s.Addr.Port())
		}
		a.str(svcAttrSchedName, s.Scheduler)
		fl := binary.NativeEndian.AppendUint32(nil, serviceFlags(s))
		fl = binary.NativeEndian.AppendUint32(fl, ^uint32(0))
		a.put(svcAttrFlags, fl)
		a.u32(svcAttrTimeout, s.Persistence)
		a.u32(svcAttrNetmask, netmaskValue(s))
	})
}

func nlmsg(typ uint16, seq uint32, flags uint16, body []byte) []byte {
	b := native.AppendUint32(nil, uint32(unix.NLMSG_HDRLEN+len(body)))
	b = native.AppendUint16(b, typ)
	b = native.AppendUint16(b, flags)
	b = native.AppendUint32(b, seq)
	b = native.AppendUint32(b, 0)
	b = append(b, body...)
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

func TestWalkMessages(t *testing.T) {
	genl := func(payload string) []byte { return append([]byte{1, 1, 0, 0}, payload...) }
	var got []string
	collect := func(b []byte) error { got = append(got, string(b)); return nil }

	buf := append(nlmsg(30, 6, unix.NLM_F_MULTI, genl("stale")), nlmsg(30, 7, unix.NLM_F_MULTI, genl("one"))...)
	buf = append(buf, nlmsg(30, 7, unix.NLM_F_MULTI, genl("two"))...)
	done, err := walkMessages(buf, 7, collect)
	if err != nil || done || len(got) != 2 || got[0] != "one" || got[1] != "two" {
		t.Fatalf("multi: done %v err %v got %q", done, err, got)
	}
	done, err = walkMessages(nlmsg(unix.NLMSG_DONE, 7, 0, []byte{0, 0, 0, 0}), 7, collect)
	if !done || err != nil {
		t.Fatalf("done: %v %v", done, err)
	}
	errBody := native.AppendUint32(nil, uint32(0xffffffff-uint32(unix.EEXIST)+1))
	done, err = walkMessages(nlmsg(unix.NLMSG_ERROR, 7, 0, errBody), 7, collect)
	if !done || !errors.Is(err, unix.EEXIST) {
		t.Fatalf("error: %v %v", done, err)
	}
	done, err = walkMessages(nlmsg(unix.NLMSG_ERROR, 7, 0, make([]byte, 20)), 7, collect)
	if !done || err != nil {
		t.Fatalf("ack: %v %v", done, err)
	}
	if _, err := walkMessages([]byte{200, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}, 7, collect); err == nil {
		t.Fatal("a message longer than the buffer was accepted")
	}
}

func FuzzParseServiceMsg(f *testing.F) {
	f.Add(kernelServiceMsg(Service{ServiceKey: tcp("10.0.0.1:80"), Scheduler: "wrr", Persistence: 3}, []byte{255, 255, 0, 0}, Counters{}))
	f.Add(kernelServiceMsg(Service{ServiceKey: MarkKey(9, IPv6), Scheduler: "lc"}, []byte{128, 0, 0, 0}, Counters{}))
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _, _ = parseServiceMsg(b)
	})
}

func FuzzParseDestMsg(f *testing.F) {
	var a attrs
	destFull(&a, Destination{Addr: ap("[2001:db8::2]:80"), Forward: Tunnel, TunnelType: TunnelGUE, TunnelPort: 1})
	f.Add(a.b, uint16(IPv6))
	f.Fuzz(func(t *testing.T, b []byte, fam uint16) {
		_, _ = parseDestMsg(b, Family(fam))
	})
}

func FuzzParseDaemonMsg(f *testing.F) {
	var a attrs
	daemonAttrs(&a, Daemon{State: DaemonMaster, Interface: "eth0", Group: netip.MustParseAddr("224.0.0.81")})
	f.Add(a.b)
	f.Fuzz(func(t *testing.T, b []byte) { _, _ = parseDaemonMsg(b) })
}

func FuzzWalkMessages(f *testing.F) {
	f.Add(nlmsg(30, 7, unix.NLM_F_MULTI, []byte{1, 1, 0, 0, 4, 0, 1, 0}))
	f.Add(nlmsg(unix.NLMSG_ERROR, 7, 0, []byte{0xef, 0xff, 0xff, 0xff}))
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = walkMessages(b, 7, func(p []byte) error {
			return forAttrs(p, func(uint16, []byte) error { return nil })
		})
	})
}
