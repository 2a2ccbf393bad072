package checkers

import (
	"encoding/binary"
	"io"
	"net"
	"net/netip"
	"testing"
	"time"

	"golang.org/x/net/dns/dnsmessage"
)

func dnsDef(a netip.AddrPort, timeout time.Duration, spec DNSSpec) Definition {
	return Definition{Target: a, Settings: Settings{Timeout: timeout}, Spec: spec}
}

func TestDNSCheck(t *testing.T) {
	srv := startDNS(t, mustAddr("192.0.2.10"), mustAddr("192.0.2.11"), mustAddr("2001:db8::10"))
	a := srv.Addr()
	tests := []struct {
		name   string
		spec   DNSSpec
		rcode  dnsmessage.RCode
		ok     bool
		reason string
	}{
		{"default SOA of the root", DNSSpec{}, dnsmessage.RCodeSuccess, true, "NOERROR"},
		{"A with expected addresses", DNSSpec{Name: "www.example.test", Type: "A", Expect: []netip.Addr{mustAddr("192.0.2.11"), mustAddr("192.0.2.10")}}, dnsmessage.RCodeSuccess, true, "NOERROR, expected addresses present"},
		{"AAAA with expected address", DNSSpec{Name: "www.example.test", Type: "AAAA", Expect: []netip.Addr{mustAddr("2001:db8::10")}}, dnsmessage.RCodeSuccess, true, "NOERROR, expected addresses present"},
		{"expected address missing", DNSSpec{Name: "www.example.test", Type: "A", Expect: []netip.Addr{mustAddr("192.0.2.99")}}, dnsmessage.RCodeSuccess, false, "192.0.2.99 not in the answer"},
		{"NXDOMAIN", DNSSpec{Name: "nx.example.test", Type: "A"}, dnsmessage.RCodeNameError, false, "rcode NameError"},
		{"SERVFAIL", DNSSpec{Name: "www.example.test", Type: "A"}, dnsmessage.RCodeServerFailure, false, "rcode ServerFailure"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv.rcode.Store(int32(tt.rcode))
			r := mustCheck(t, dnsDef(a, time.Second, tt.spec), nil)
			if r.OK != tt.ok || r.Reason != tt.reason {
				t.Fatalf("result %+v, want ok=%v reason %q", r, tt.ok, tt.reason)
			}
		})
	}
	srv.rcode.Store(0)

	// A reply with another ID (spoofed, or stale) is ignored: the real one
	// that follows counts.
	srv.badID.Store(true)
	if r := mustCheck(t, dnsDef(a, time.Second, DNSSpec{}), nil); !r.OK {
		t.Fatalf("with a stray reply first: %+v", r)
	}
	srv.badID.Store(false)

	srv.silent.Store(true)
	if r := mustCheck(t, dnsDef(a, 200*time.Millisecond, DNSSpec{}), nil); r.OK || r.Reason != "read: timeout after 200ms" {
		t.Fatalf("silent server: %+v", r)
	}
	srv.silent.Store(false)

	// Nothing listening: the ICMP port unreachable fails the check at once.
	closed := freePort(t)
	r := mustCheck(t, dnsDef(closed, 2*time.Second, DNSSpec{}), nil)
	if r.OK || r.Reason != "read: connection refused (port unreachable)" || r.Latency > time.Second {
		t.Fatalf("closed port: %+v", r)
	}
}

func TestCheckDNSReply(t *testing.T) {
	q := dnsmessage.Question{Name: dnsmessage.MustNewName("www.example.test."), Type: dnsmessage.TypeA, Class: dnsmessage.ClassINET}
	build := func(h dnsmessage.Header, qs []dnsmessage.Question, answers ...netip.Addr) []byte {
		b := dnsmessage.NewBuilder(nil, h)
		b.StartQuestions()
		for _, q := range qs {
			b.Question(q)
		}
		b.StartAnswers()
		for _, a := range answers {
			b.AResource(dnsmessage.ResourceHeader{Name: q.Name, Class: dnsmessage.ClassINET}, dnsmessage.AResource{A: a.As4()})
		}
		m, err := b.Finish()
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	upper := q
	upper.Name = dnsmessage.MustNewName("WWW.Example.TEST.")
	other := q
	other.Type = dnsmessage.TypeAAAA
	resp := dnsmessage.Header{ID: 7, Response: true}
	tests := []struct {
		name    string
		msg     []byte
		expect  []netip.Addr
		notOurs bool
		ok      bool
	}{
		{"answer", build(resp, []dnsmessage.Question{q}, mustAddr("192.0.2.1")), []netip.Addr{mustAddr("192.0.2.1")}, false, true},
		{"question echoed in other case", build(resp, []dnsmessage.Question{upper}), nil, false, true},
		{"no question echoed", build(resp, nil), nil, false, true},
		{"wrong id", build(dnsmessage.Header{ID: 8, Response: true}, []dnsmessage.Question{q}), nil, true, false},
		{"a query, not a response", build(dnsmessage.Header{ID: 7}, []dnsmessage.Question{q}), nil, true, false},
		{"other question", build(resp, []dnsmessage.Question{other}), nil, true, false},
		{"two questions", build(resp, []dnsmessage.Question{q, q}), nil, true, false},
		{"garbage", []byte{0, 7, 0x80}, nil, true, false},
		{"missing address", build(resp, []dnsmessage.Question{q}, mustAddr("192.0.2.1")), []netip.Addr{mustAddr("192.0.2.2")}, false, false},
		{"refused", build(dnsmessage.Header{ID: 7, Response: true, RCode: dnsmessage.RCodeRefused}, []dnsmessage.Question{q}), nil, false, false},
	}
	for _, tt := range tests {
		ok, why, err := checkDNSReply(tt.msg, 7, q, tt.expect)
		if (err != nil) != tt.notOurs || ok != tt.ok {
			t.Errorf("%s: ok=%v why=%q err=%v; want ok=%v notOurs=%v", tt.name, ok, why, err, tt.ok, tt.notOurs)
		}
		if err == nil && why == "" {
			t.Errorf("%s: no reason", tt.name)
		}
	}
}

// FuzzCheckDNSReply: any datagram is either rejected as not ours or
// judged with a reason; nothing panics, and only a response with our ID
// is ever accepted.
func FuzzCheckDNSReply(f *testing.F) {
	q := dnsmessage.Question{Name: dnsmessage.MustNewName("www.example.test."), Type: dnsmessage.TypeA, Class: dnsmessage.ClassINET}
	for _, h := range []dnsmessage.Header{{ID: 7, Response: true}, {ID: 7, Response: true, RCode: dnsmessage.RCodeNameError}, {ID: 7}} {
		b := dnsmessage.NewBuilder(nil, h)
		b.StartQuestions()
		b.Question(q)
		b.StartAnswers()
		b.AResource(dnsmessage.ResourceHeader{Name: q.Name, Class: dnsmessage.ClassINET}, dnsmessage.AResource{A: [4]byte{192, 0, 2, 1}})
		m, _ := b.Finish()
		f.Add(m)
	}
	f.Add([]byte{})
	expect := []netip.Addr{mustAddr("192.0.2.1")}
	f.Fuzz(func(t *testing.T, msg []byte) {
		ok, why, err := checkDNSReply(msg, 7, q, expect)
		if err != nil {
			if ok {
				t.Fatal("ok together with an error")
			}
			return
		}
		if why == "" {
			t.Fatal("judged without a reason")
		}
		if len(msg) < 12 || msg[0] != 0 || msg[1] != 7 || msg[2]&0x80 == 0 {
			t.Fatalf("accepted a datagram that is not a response with ID 7: %x", msg)
		}
	})
}

// TestDNSCheckOverTCP: the same query framed for TCP (RFC 7766) against a
// server that answers only on TCP.
func TestDNSCheckOverTCP(t *testing.T) {
	srv := &dnsServer{addrs: []netip.Addr{mustAddr("192.0.2.10")}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			func() {
				defer c.Close()
				c.SetDeadline(time.Now().Add(5 * time.Second))
				var lb [2]byte
				if _, err := io.ReadFull(c, lb[:]); err != nil {
					return
				}
				q := make([]byte, binary.BigEndian.Uint16(lb[:]))
				if _, err := io.ReadFull(c, q); err != nil {
					return
				}
				var p dnsmessage.Parser
				h, err := p.Start(q)
				if err != nil {
					return
				}
				qq, err := p.Question()
				if err != nil {
					return
				}
				if srv.silent.Load() {
					c.Write([]byte{0, 200, 1, 2}) // a length, then the connection ends
					return
				}
				m := srv.reply(h.ID, qq)
				c.Write(binary.BigEndian.AppendUint16(nil, uint16(len(m))))
				c.Write(m)
			}()
		}
	}()
	t.Cleanup(func() { ln.Close(); <-done })
	a := netip.MustParseAddrPort(ln.Addr().String())

	spec := DNSSpec{Name: "www.example.test", Type: "A", Expect: []netip.Addr{mustAddr("192.0.2.10")}, TCP: true}
	if r := mustCheck(t, dnsDef(a, time.Second, spec), nil); !r.OK || r.Reason != "NOERROR, expected addresses present" {
		t.Fatalf("over tcp: %+v", r)
	}
	srv.silent.Store(true)
	if r := mustCheck(t, dnsDef(a, time.Second, spec), nil); r.OK || r.Reason != "read: connection closed early" {
		t.Fatalf("truncated reply: %+v", r)
	}
	if d := dnsDef(a, time.Second, spec); d.Key() == dnsDef(a, time.Second, DNSSpec{Name: "www.example.test", Type: "A", Expect: spec.Expect}).Key() {
		t.Fatal("udp and tcp queries share a key")
	}
	ln.Close()
	if r := mustCheck(t, dnsDef(a, time.Second, spec), nil); r.OK || r.Reason != "connect: connection refused" {
		t.Fatalf("closed port: %+v", r)
	}
}
