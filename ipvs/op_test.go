package ipvs

import (
	"errors"
	"syscall"
	"testing"
)

func TestOpString(t *testing.T) {
	v6 := AddrKey(UDP, ap("[2001:db8::1]:53"))
	tests := []struct {
		op   Op
		want string
	}{
		{Op{Kind: AddService, Service: Service{ServiceKey: tcp("10.0.0.1:80"), Scheduler: "wrr"}}, "-A -t 10.0.0.1:80 -s wrr"},
		{Op{Kind: AddService, Service: Service{ServiceKey: tcp("10.0.0.1:443"), Scheduler: "sh", SchedFlags: SchedFlags{true, true}, Persistence: 300, PersistenceMask: 24}},
			"-A -t 10.0.0.1:443 -s sh -b sh-fallback,sh-port -p 300 -M 255.255.255.0"},
		{Op{Kind: UpdateService, Service: Service{ServiceKey: v6, Scheduler: "mh", SchedFlags: SchedFlags{Port: true}, Persistence: 60, PersistenceMask: 64, OnePacket: true}},
			"-E -u [2001:db8::1]:53 -s mh -b mh-port -p 60 -M 64 -o"},
		{Op{Kind: DeleteService, Service: Service{ServiceKey: MarkKey(7, IPv6)}}, "-D -f 7 -6"},
		{Op{Kind: AddService, Service: Service{ServiceKey: AddrKey(SCTP, ap("10.0.0.1:3868")), Scheduler: "rr"}}, "-A --sctp-service 10.0.0.1:3868 -s rr"},
		{Op{Kind: AddDestination, Service: Service{ServiceKey: tcp("10.0.0.1:80")}, Destination: Destination{Addr: ap("10.0.1.2:8080"), Weight: 3}},
			"-a -t 10.0.0.1:80 -r 10.0.1.2:8080 -m -w 3"},
		{Op{Kind: UpdateDestination, Service: Service{ServiceKey: tcp("10.0.0.1:80")}, Destination: Destination{Addr: ap("10.0.1.2:80"), Forward: DR, Weight: 0, UpperThreshold: 100, LowerThreshold: 10}},
			"-e -t 10.0.0.1:80 -r 10.0.1.2:80 -g -w 0 -x 100 -y 10"},
		{Op{Kind: AddDestination, Service: Service{ServiceKey: tcp("10.0.0.1:80")}, Destination: Destination{Addr: ap("10.0.1.2:80"), Forward: Tunnel, Weight: 1, TunnelType: TunnelGUE, TunnelPort: 6080, TunnelChecksum: TunnelRemCsum}},
			"-a -t 10.0.0.1:80 -r 10.0.1.2:80 -i -w 1 --tun-type gue --tun-port 6080 --tun-remcsum"},
		{Op{Kind: AddDestination, Service: Service{ServiceKey: MarkKey(1, IPv4)}, Destination: Destination{Addr: ap("10.0.1.2:0"), Forward: DR, Weight: 1}},
			"-a -f 1 -r 10.0.1.2 -g -w 1"},
		{Op{Kind: DeleteDestination, Service: Service{ServiceKey: v6}, Destination: Destination{Addr: ap("[2001:db8::2]:53")}},
			"-d -u [2001:db8::1]:53 -r [2001:db8::2]:53"},
	}
	for _, tc := range tests {
		if got := tc.op.String(); got != tc.want {
			t.Errorf("%s:\n got %s\nwant %s", tc.op.Describe(), got, tc.want)
		}
	}
}

func TestOpErrorNamesTheOp(t *testing.T) {
	e := &OpError{
		Op:  Op{Kind: AddDestination, Service: Service{ServiceKey: tcp("10.0.0.100:80")}, Destination: Destination{Addr: ap("10.0.1.2:80")}},
		Err: syscall.EEXIST,
	}
	if got, want := e.Error(), "add real server 10.0.1.2:80 to tcp 10.0.0.100:80: file exists"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if !errors.Is(e, syscall.EEXIST) {
		t.Error("OpError does not unwrap to its cause")
	}
}
