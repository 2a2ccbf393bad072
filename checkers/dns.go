package checkers

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"slices"
	"strings"
	"time"

	"golang.org/x/net/dns/dnsmessage"
)

// DNSSpec sends one query over UDP (or TCP); the answer must come back NOERROR and,
// if Expect is set, hold every expected address in its answer section.
// (keepalived: DNS_CHECK, whose defaults are the same: SOA of ".".)
//
// Messages are built and parsed with golang.org/x/net/dns/dnsmessage,
// which lvsd already has through x/net: a full DNS library would add a
// large dependency for one query.
type DNSSpec struct {
	// Name to query. Default "." (the root).
	Name string
	// Type of the query: A, AAAA, NS, CNAME, SOA, MX, TXT, PTR, SRV.
	// Default SOA.
	Type string
	// Expect lists addresses that must appear in A/AAAA answers.
	Expect []netip.Addr `json:",omitempty"`
	// NoRecursion clears the RD (recursion desired) bit. Default: set, as
	// keepalived does.
	NoRecursion bool `json:",omitempty"`
	// TCP sends the query over TCP (RFC 7766 framing: a two-byte length
	// before each message) instead of UDP.
	TCP bool `json:",omitempty"`
}

var dnsTypes = map[string]dnsmessage.Type{
	"A": dnsmessage.TypeA, "AAAA": dnsmessage.TypeAAAA, "NS": dnsmessage.TypeNS,
	"CNAME": dnsmessage.TypeCNAME, "SOA": dnsmessage.TypeSOA, "MX": dnsmessage.TypeMX,
	"TXT": dnsmessage.TypeTXT, "PTR": dnsmessage.TypePTR, "SRV": dnsmessage.TypeSRV,
}

func (DNSSpec) Kind() Kind { return KindDNS }

func (s DNSSpec) network() string {
	if s.TCP {
		return "tcp"
	}
	return "udp"
}

func (s DNSSpec) normalized() Spec {
	if s.Name == "" {
		s.Name = "."
	}
	if !strings.HasSuffix(s.Name, ".") {
		s.Name += "."
	}
	s.Name = strings.ToLower(s.Name)
	s.Type = strings.ToUpper(s.Type)
	if s.Type == "" {
		s.Type = "SOA"
	}
	if len(s.Expect) == 0 {
		s.Expect = nil
	} else {
		s.Expect = slices.Clone(s.Expect)
		for i, a := range s.Expect {
			s.Expect[i] = a.Unmap()
		}
		slices.SortFunc(s.Expect, netip.Addr.Compare)
		s.Expect = slices.Compact(s.Expect)
	}
	return s
}

func (s DNSSpec) Validate() error {
	n := s.normalized().(DNSSpec)
	if _, ok := dnsTypes[n.Type]; !ok {
		return fmt.Errorf("query type %q: want one of A, AAAA, NS, CNAME, SOA, MX, TXT, PTR, SRV", s.Type)
	}
	if _, err := dnsmessage.NewName(n.Name); err != nil || len(n.Name) > 254 {
		return fmt.Errorf("query name %q is not a valid domain name", s.Name)
	}
	for _, l := range strings.Split(strings.TrimSuffix(n.Name, "."), ".") {
		if n.Name != "." && (l == "" || len(l) > 63) {
			return fmt.Errorf("query name %q has an empty or over-long label", s.Name)
		}
	}
	for _, a := range n.Expect {
		if !a.IsValid() {
			return errors.New("expect holds an invalid address")
		}
	}
	return nil
}

func (s DNSSpec) build(t netip.AddrPort, set Settings, _ *Env) (Check, error) {
	name, err := dnsmessage.NewName(s.Name)
	if err != nil {
		return nil, fmt.Errorf("query name %q: %w", s.Name, err)
	}
	return &dnsCheck{
		spec:    s,
		addr:    t.String(),
		timeout: set.Timeout,
		dialer:  newDialer(s.network(), set),
		q:       dnsmessage.Question{Name: name, Type: dnsTypes[s.Type], Class: dnsmessage.ClassINET},
	}, nil
}

type dnsCheck struct {
	spec    DNSSpec
	addr    string
	timeout time.Duration
	dialer  *net.Dialer
	q       dnsmessage.Question
}

func (c *dnsCheck) Check(ctx context.Context) Result {
	start := time.Now()
	ctx, cancel := withTimeout(ctx, c.timeout)
	defer cancel()
	fail := func(r string) Result { return Result{Reason: r, Latency: time.Since(start)} }

	var idb [2]byte
	_, _ = rand.Read(idb[:])
	id := binary.BigEndian.Uint16(idb[:])
	query, err := buildQuery(id, c.q, !c.spec.NoRecursion)
	if err != nil {
		return fail("build query: " + err.Error())
	}
	conn, err := c.dialer.DialContext(ctx, c.spec.network(), c.addr)
	if err != nil {
		return fail(reason(ctx, "connect", err, c.timeout))
	}
	defer conn.Close()
	defer interruptOnDone(ctx, conn)()
	if c.spec.TCP {
		return c.overTCP(ctx, conn, query, id, start)
	}
	if _, err := conn.Write(query); err != nil {
		return fail(reason(ctx, "send", err, c.timeout))
	}
	buf := make([]byte, 4096)
	for {
		n, err := conn.Read(buf)
		if err != nil {
			return fail(udpReadReason(ctx, err, c.timeout))
		}
		ok, why, err := checkDNSReply(buf[:n], id, c.q, c.spec.Expect)
		if err != nil {
			// Not an answer to our query (stray, spoofed or garbled):
			// keep waiting for the real one until the timeout.
			continue
		}
		return Result{OK: ok, Reason: why, Latency: time.Since(start)}
	}
}

// overTCP sends query on a TCP connection and reads one framed reply
// (RFC 7766: a two-byte length before each message).
func (c *dnsCheck) overTCP(ctx context.Context, conn net.Conn, query []byte, id uint16, start time.Time) Result {
	fail := func(r string) Result { return Result{Reason: r, Latency: time.Since(start)} }
	msg := make([]byte, 2+len(query))
	binary.BigEndian.PutUint16(msg, uint16(len(query)))
	copy(msg[2:], query)
	if _, err := conn.Write(msg); err != nil {
		return fail(reason(ctx, "send", err, c.timeout))
	}
	var lb [2]byte
	if _, err := io.ReadFull(conn, lb[:]); err != nil {
		return fail(reason(ctx, "read", err, c.timeout))
	}
	buf := make([]byte, binary.BigEndian.Uint16(lb[:]))
	if _, err := io.ReadFull(conn, buf); err != nil {
		return fail(reason(ctx, "read", err, c.timeout))
	}
	ok, why, err := checkDNSReply(buf, id, c.q, c.spec.Expect)
	if err != nil {
		// On a connection of its own, anything else than the answer is
		// a broken server.
		return fail(err.Error())
	}
	return Result{OK: ok, Reason: why, Latency: time.Since(start)}
}

// buildQuery encodes a one-question query.
func buildQuery(id uint16, q dnsmessage.Question, rd bool) ([]byte, error) {
	b := dnsmessage.NewBuilder(make([]byte, 0, 64), dnsmessage.Header{ID: id, RecursionDesired: rd})
	b.EnableCompression()
	if err := b.StartQuestions(); err != nil {
		return nil, err
	}
	if err := b.Question(q); err != nil {
		return nil, err
	}
	return b.Finish()
}

// errNotOurs marks a datagram that is not a reply to our query.
var errNotOurs = errors.New("not a reply to this query")

// checkDNSReply parses msg as the reply to query id for q. It returns an
// error if msg is not that reply (wrong id, not a response, other
// question, unparsable); otherwise whether the check passes and why.
func checkDNSReply(msg []byte, id uint16, q dnsmessage.Question, expect []netip.Addr) (bool, string, error) {
	var p dnsmessage.Parser
	h, err := p.Start(msg)
	if err != nil {
		return false, "", fmt.Errorf("%w: %v", errNotOurs, err)
	}
	if h.ID != id || !h.Response || h.OpCode != 0 {
		return false, "", errNotOurs
	}
	qs, err := p.AllQuestions()
	if err != nil {
		return false, "", fmt.Errorf("%w: questions: %v", errNotOurs, err)
	}
	// A server may omit the question in an error reply; if it echoes one
	// it must be ours.
	if len(qs) > 1 || (len(qs) == 1 && !sameQuestion(qs[0], q)) {
		return false, "", fmt.Errorf("%w: question differs", errNotOurs)
	}
	if h.RCode != dnsmessage.RCodeSuccess {
		return false, "rcode " + rcodeName(h.RCode), nil
	}
	if len(expect) == 0 {
		return true, "NOERROR", nil
	}
	found := make(map[netip.Addr]bool, len(expect))
	for {
		ah, err := p.AnswerHeader()
		if err == dnsmessage.ErrSectionDone {
			break
		}
		if err != nil {
			return false, "malformed answer: " + err.Error(), nil
		}
		switch ah.Type {
		case dnsmessage.TypeA:
			r, err := p.AResource()
			if err != nil {
				return false, "malformed A record: " + err.Error(), nil
			}
			found[netip.AddrFrom4(r.A)] = true
		case dnsmessage.TypeAAAA:
			r, err := p.AAAAResource()
			if err != nil {
				return false, "malformed AAAA record: " + err.Error(), nil
			}
			found[netip.AddrFrom16(r.AAAA).Unmap()] = true
		default:
			if err := p.SkipAnswer(); err != nil {
				return false, "malformed answer: " + err.Error(), nil
			}
		}
	}
	for _, a := range expect {
		if !found[a] {
			if h.Truncated {
				return false, fmt.Sprintf("%s not in the answer (reply truncated)", a), nil
			}
			return false, fmt.Sprintf("%s not in the answer", a), nil
		}
	}
	return true, "NOERROR, expected addresses present", nil
}

func sameQuestion(a, b dnsmessage.Question) bool {
	return a.Type == b.Type && a.Class == b.Class && strings.EqualFold(a.Name.String(), b.Name.String())
}

func rcodeName(r dnsmessage.RCode) string {
	s := r.String()
	return strings.TrimPrefix(s, "RCode")
}

// udpReadReason explains a failed read on a connected UDP socket: an ICMP
// port unreachable comes back as ECONNREFUSED.
func udpReadReason(ctx context.Context, err error, timeout time.Duration) string {
	r := reason(ctx, "read", err, timeout)
	if strings.HasSuffix(r, "connection refused") {
		r += " (port unreachable)"
	}
	return r
}
