package checkers

import (
	"net/netip"
	"testing"
	"time"
)

func udpDef(a netip.AddrPort, timeout time.Duration, spec UDPSpec) Definition {
	return Definition{Target: a, Settings: Settings{Timeout: timeout}, Spec: spec}
}

func TestUDPCheck(t *testing.T) {
	srv := startUDP(t, "127.0.0.1:0")
	a := srv.Addr()
	closed := func() netip.AddrPort {
		s := startUDP(t, "127.0.0.1:0")
		s.Close()
		return s.Addr()
	}()

	tests := []struct {
		name       string
		target     netip.AddrPort
		silent     bool
		spec       UDPSpec
		ok         bool
		reason     string
		maxLatency time.Duration
	}{
		{"any reply", a, false, UDPSpec{Payload: []byte("ping")}, true, "reply of 9 bytes", 0},
		{"reply matches", a, false, UDPSpec{Payload: []byte("ping"), Expect: "^echo:ping$"}, true, "reply of 9 bytes", 0},
		{"reply does not match", a, false, UDPSpec{Payload: []byte("ping"), Expect: "^pong"}, false, `reply "echo:ping" does not match "^pong"`, 0},
		{"empty payload", a, false, UDPSpec{}, true, "reply of 5 bytes", 0},
		{"silent server", a, true, UDPSpec{Payload: []byte("ping")}, false, "read: timeout after 200ms", 0},
		{"port unreachable is down at once", closed, false, UDPSpec{Payload: []byte("ping")}, false, "read: connection refused (port unreachable)", time.Second},
		{"silent server, no reply needed", a, true, UDPSpec{Payload: []byte("ping"), NoReplyOK: true}, true, "no reply and no ICMP error", 0},
		{"port unreachable, no reply needed: still down", closed, false, UDPSpec{Payload: []byte("ping"), NoReplyOK: true}, false, "read: connection refused (port unreachable)", time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv.silent.Store(tt.silent)
			timeout := 200 * time.Millisecond
			if tt.maxLatency > 0 {
				timeout = 3 * time.Second
			}
			r := mustCheck(t, udpDef(tt.target, timeout, tt.spec), nil)
			if r.OK != tt.ok || r.Reason != tt.reason {
				t.Fatalf("result %+v, want ok=%v reason %q", r, tt.ok, tt.reason)
			}
			if tt.maxLatency > 0 && r.Latency > tt.maxLatency {
				t.Fatalf("took %v, want under %v", r.Latency, tt.maxLatency)
			}
		})
	}
}
