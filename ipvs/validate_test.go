package ipvs

import (
	"net/netip"
	"strings"
	"testing"
	"time"
)

func ap(s string) netip.AddrPort { return netip.MustParseAddrPort(s) }

func tcp(s string) ServiceKey { return AddrKey(TCP, ap(s)) }

func TestServiceValidate(t *testing.T) {
	ok := Service{ServiceKey: tcp("10.0.0.1:80"), Scheduler: "wrr"}
	tests := []struct {
		name string
		edit func(*Service)
		want string // substring of the error; "" for valid
	}{
		{"valid", func(s *Service) {}, ""},
		{"no scheduler", func(s *Service) { s.Scheduler = "" }, "no scheduler"},
		{"unknown scheduler", func(s *Service) { s.Scheduler = "fastest" }, `unknown scheduler "fastest"`},
		{"sched flags on rr", func(s *Service) { s.SchedFlags.Port = true }, "only apply to the sh and mh schedulers, not wrr"},
		{"sched flags on sh", func(s *Service) { s.Scheduler = "sh"; s.SchedFlags = SchedFlags{true, true} }, ""},
		{"sched flags on mh", func(s *Service) { s.Scheduler = "mh"; s.SchedFlags.Fallback = true }, ""},
		{"persistence", func(s *Service) { s.Persistence = 300; s.PersistenceMask = 24 }, ""},
		{"persistence too long", func(s *Service) { s.Persistence = MaxPersistence + 1 }, "above the kernel's limit"},
		{"mask without persistence", func(s *Service) { s.PersistenceMask = 24 }, "needs a persistence timeout"},
		{"mask too long v4", func(s *Service) { s.Persistence = 60; s.PersistenceMask = 33 }, "out of range (1..32 for inet)"},
		{"negative mask", func(s *Service) { s.Persistence = 60; s.PersistenceMask = -1 }, "out of range"},
		{"mask v6", func(s *Service) {
			s.ServiceKey = tcp("[2001:db8::1]:80")
			s.Persistence = 60
			s.PersistenceMask = 64
		}, ""},
		{"mask too long v6", func(s *Service) {
			s.ServiceKey = tcp("[2001:db8::1]:80")
			s.Persistence = 60
			s.PersistenceMask = 129
		}, "1..128 for inet6"},
		{"port 0 without persistence", func(s *Service) { s.ServiceKey = tcp("10.0.0.1:0") }, "port 0 (all ports) needs persistence"},
		{"port 0 with persistence", func(s *Service) { s.ServiceKey = tcp("10.0.0.1:0"); s.Persistence = 60 }, ""},
		{"one-packet on tcp", func(s *Service) { s.OnePacket = true }, "only applies to UDP"},
		{"one-packet on udp", func(s *Service) { s.ServiceKey = AddrKey(UDP, ap("10.0.0.1:53")); s.OnePacket = true }, ""},
		{"one-packet on fwmark", func(s *Service) { s.ServiceKey = MarkKey(3, IPv4); s.OnePacket = true }, ""},
		{"negative drain", func(s *Service) { s.DrainTimeout = -time.Second }, "negative drain timeout"},
		{"fwmark", func(s *Service) { s.ServiceKey = MarkKey(7, IPv6) }, ""},
		{"fwmark with protocol", func(s *Service) { s.ServiceKey = MarkKey(7, IPv4); s.Protocol = TCP }, "has no protocol"},
		{"fwmark with port", func(s *Service) {
			s.ServiceKey = MarkKey(7, IPv4)
			s.Addr = netip.AddrPortFrom(netip.Addr{}, 80)
		}, "has no address or port"},
		{"fwmark with address", func(s *Service) { s.ServiceKey = MarkKey(7, IPv4); s.Addr = ap("10.0.0.1:80") }, "has no address or port"},
		{"no protocol", func(s *Service) { s.Protocol = 0 }, "needs a protocol"},
		{"unknown protocol", func(s *Service) { s.Protocol = 99 }, "unknown protocol 99"},
		{"family mismatch", func(s *Service) { s.Family = IPv6 }, "address is inet but the service family is inet6"},
		{"bad family", func(s *Service) { s.Family = 3 }, "unknown address family 3"},
		{"no address", func(s *Service) { s.Addr = netip.AddrPort{} }, "needs an address"},
		{"mapped address", func(s *Service) { s.Addr = ap("[::ffff:10.0.0.1]:80") }, "write it as IPv4 (10.0.0.1)"},
		{"unspecified", func(s *Service) { s.Addr = ap("0.0.0.0:80") }, "unspecified"},
		{"multicast", func(s *Service) { s.Addr = ap("224.0.0.1:80") }, "multicast"},
		{"zone", func(s *Service) { s.ServiceKey = tcp("[fe80::1%eth0]:80") }, "zone"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := ok
			tc.edit(&s)
			checkErr(t, s.Validate(), tc.want)
		})
	}
	for _, name := range Schedulers {
		s := ok
		s.Scheduler = name
		if err := s.Validate(); err != nil {
			t.Errorf("scheduler %s: %v", name, err)
		}
	}
}

func TestDestinationValidate(t *testing.T) {
	vs := tcp("10.0.0.1:80")
	tests := []struct {
		name string
		key  ServiceKey
		d    Destination
		want string
	}{
		{"nat", vs, Destination{Addr: ap("10.0.1.2:8080"), Forward: NAT, Weight: 3}, ""},
		{"dr same port", vs, Destination{Addr: ap("10.0.1.2:80"), Forward: DR, Weight: 1}, ""},
		{"dr other port", vs, Destination{Addr: ap("10.0.1.2:8080"), Forward: DR}, "dr cannot change the port: the real server port must be the virtual port 80"},
		{"tun other port", vs, Destination{Addr: ap("10.0.1.2:81"), Forward: Tunnel}, "tun cannot change the port"},
		{"dr on fwmark any port", MarkKey(1, IPv4), Destination{Addr: ap("10.0.1.2:0"), Forward: DR}, ""},
		{"nat port 0", vs, Destination{Addr: ap("10.0.1.2:0"), Forward: NAT}, "needs a port"},
		{"nat port 0 on port-0 service", tcp("10.0.0.1:0"), Destination{Addr: ap("10.0.1.2:0"), Forward: NAT}, ""},
		{"weight max", vs, Destination{Addr: ap("10.0.1.2:80"), Weight: MaxWeight}, ""},
		{"weight too big", vs, Destination{Addr: ap("10.0.1.2:80"), Weight: MaxWeight + 1}, "weight 65536 is out of range (0..65535)"},
		{"thresholds", vs, Destination{Addr: ap("10.0.1.2:80"), UpperThreshold: 100, LowerThreshold: 50}, ""},
		{"lower above upper", vs, Destination{Addr: ap("10.0.1.2:80"), UpperThreshold: 10, LowerThreshold: 50}, "lower connection threshold 50 is above the upper threshold 10"},
		{"lower without upper", vs, Destination{Addr: ap("10.0.1.2:80"), LowerThreshold: 5}, "needs an upper threshold"},
		{"family mismatch", vs, Destination{Addr: ap("[2001:db8::2]:80")}, "the real server is inet6 but the service is inet"},
		{"local", vs, Destination{Addr: ap("10.0.1.2:80"), Forward: Local}, "chosen by the kernel"},
		{"unknown forward", vs, Destination{Addr: ap("10.0.1.2:80"), Forward: 9}, "unknown forwarding method 9"},
		{"no address", vs, Destination{}, "needs an address"},
		{"unspecified", vs, Destination{Addr: ap("0.0.0.0:80")}, "not a unicast address"},
		{"gue", vs, Destination{Addr: ap("10.0.1.2:80"), Forward: Tunnel, TunnelType: TunnelGUE, TunnelPort: 6080, TunnelChecksum: TunnelRemCsum}, ""},
		{"gue without port", vs, Destination{Addr: ap("10.0.1.2:80"), Forward: Tunnel, TunnelType: TunnelGUE}, "needs a tunnel port"},
		{"gre csum", vs, Destination{Addr: ap("10.0.1.2:80"), Forward: Tunnel, TunnelType: TunnelGRE, TunnelChecksum: TunnelCsum}, ""},
		{"gre remcsum", vs, Destination{Addr: ap("10.0.1.2:80"), Forward: Tunnel, TunnelType: TunnelGRE, TunnelChecksum: TunnelRemCsum}, "gre tunnel takes checksum nocsum or csum"},
		{"gre port", vs, Destination{Addr: ap("10.0.1.2:80"), Forward: Tunnel, TunnelType: TunnelGRE, TunnelPort: 1}, "only applies to gue"},
		{"ipip port", vs, Destination{Addr: ap("10.0.1.2:80"), Forward: Tunnel, TunnelPort: 1}, "not ipip"},
		{"tunnel options on nat", vs, Destination{Addr: ap("10.0.1.2:80"), TunnelType: TunnelGRE}, "only apply to forwarding method tun, not nat"},
		{"unknown tunnel", vs, Destination{Addr: ap("10.0.1.2:80"), Forward: Tunnel, TunnelType: 7}, "unknown tunnel type 7"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { checkErr(t, tc.d.Validate(tc.key), tc.want) })
	}
}

func TestTableValidateJoinsEveryProblem(t *testing.T) {
	var tb Table
	tb.Put(VirtualService{
		Service: Service{ServiceKey: tcp("10.0.0.1:80"), Scheduler: "rr"},
		Destinations: []Destination{
			{Addr: ap("10.0.1.2:80"), Weight: 70000},
			{Addr: ap("10.0.1.3:80"), Forward: DR, Weight: 1},
			{Addr: ap("10.0.1.4:81"), Forward: DR},
		},
	})
	tb.Put(VirtualService{Service: Service{ServiceKey: tcp("10.0.0.2:80"), Scheduler: "nope"}})
	err := tb.Validate()
	if err == nil {
		t.Fatal("want errors")
	}
	for _, want := range []string{"10.0.1.2:80 of tcp 10.0.0.1:80: weight 70000", "10.0.1.4:81 of tcp 10.0.0.1:80: dr cannot change", `tcp 10.0.0.2:80: unknown scheduler "nope"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	if strings.Contains(err.Error(), "10.0.1.3") {
		t.Errorf("error %q blames a valid real server", err)
	}
}

func TestDaemonValidate(t *testing.T) {
	tests := []struct {
		d    Daemon
		want string
	}{
		{Daemon{State: DaemonMaster, Interface: "eth0", SyncID: 5}, ""},
		{Daemon{State: DaemonBackup, Interface: "eth0", Group: netip.MustParseAddr("ff02::81"), Port: 8848, TTL: 2}, ""},
		{Daemon{State: 3, Interface: "eth0"}, "state must be master or backup"},
		{Daemon{State: DaemonMaster}, "needs a multicast interface"},
		{Daemon{State: DaemonMaster, Interface: "a-very-long-ifname"}, "longer than 15"},
		{Daemon{State: DaemonMaster, Interface: "eth0", SyncID: 256}, "sync id 256 is out of range"},
		{Daemon{State: DaemonMaster, Interface: "eth0", Group: netip.MustParseAddr("10.0.0.1")}, "not a multicast address"},
	}
	for _, tc := range tests {
		checkErr(t, tc.d.Validate(), tc.want)
	}
}

func TestParseHelpers(t *testing.T) {
	if f, err := ParseSchedFlags("sh-fallback,sh-port"); err != nil || f != (SchedFlags{true, true}) {
		t.Errorf("ParseSchedFlags = %v, %v", f, err)
	}
	if f, err := ParseSchedFlags("mh-port"); err != nil || f != (SchedFlags{Port: true}) {
		t.Errorf("ParseSchedFlags = %v, %v", f, err)
	}
	if _, err := ParseSchedFlags("sh-fast"); err == nil {
		t.Error("ParseSchedFlags accepted sh-fast")
	}
	for in, want := range map[string]Forward{"nat": NAT, "masq": NAT, "DR": DR, "gatewaying": DR, "tun": Tunnel, "ipip": Tunnel} {
		if got, err := ParseForward(in); err != nil || got != want {
			t.Errorf("ParseForward(%q) = %v, %v", in, got, err)
		}
	}
	if _, err := ParseForward("local"); err == nil {
		t.Error("ParseForward accepted local")
	}
	if tt, err := ParseTunnelType("GUE"); err != nil || tt != TunnelGUE {
		t.Errorf("ParseTunnelType = %v, %v", tt, err)
	}
	if c, err := ParseTunnelChecksum("remcsum"); err != nil || c != TunnelRemCsum {
		t.Errorf("ParseTunnelChecksum = %v, %v", c, err)
	}
}

func TestParseServiceKeyRoundTrip(t *testing.T) {
	keys := []ServiceKey{
		tcp("10.0.0.1:80"),
		AddrKey(UDP, ap("[2001:db8::1]:53")),
		AddrKey(SCTP, ap("10.0.0.1:3868")),
		MarkKey(7, IPv4),
		MarkKey(7, IPv6),
	}
	for _, k := range keys {
		got, err := ParseServiceKey(k.String())
		if err != nil || got != k {
			t.Errorf("ParseServiceKey(%q) = %v, %v; want %v", k.String(), got, err, k)
		}
	}
	for _, bad := range []string{"", "tcp", "fwm 0", "fwm x", "fwm 7 inet5", "icmp 10.0.0.1:1", "tcp 10.0.0.1", "tcp 0.0.0.0:80", "tcp 1.2.3.4:5 extra"} {
		if k, err := ParseServiceKey(bad); err == nil {
			t.Errorf("ParseServiceKey(%q) = %v, want an error", bad, k)
		}
	}
}

func FuzzParseServiceKey(f *testing.F) {
	for _, s := range []string{"tcp 10.0.0.1:80", "udp [2001:db8::1]:53", "fwm 7", "fwm 7 inet6", "sctp 1.2.3.4:5"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		k, err := ParseServiceKey(s)
		if err != nil {
			return
		}
		if err := k.Validate(); err != nil {
			t.Fatalf("ParseServiceKey(%q) = %v, which does not validate: %v", s, k, err)
		}
		again, err := ParseServiceKey(k.String())
		if err != nil || again != k {
			t.Fatalf("round trip of %q: %v -> %q -> %v, %v", s, k, k.String(), again, err)
		}
	})
}

func checkErr(t *testing.T, err error, want string) {
	t.Helper()
	switch {
	case want == "" && err != nil:
		t.Errorf("unexpected error: %v", err)
	case want != "" && err == nil:
		t.Errorf("no error, want one containing %q", want)
	case want != "" && !strings.Contains(err.Error(), want):
		t.Errorf("error %q does not contain %q", err, want)
	}
}
