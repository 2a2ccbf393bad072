package checkers

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"regexp"
	"time"
)

// UDPSpec sends one datagram and expects one back, optionally matching
// Expect. An ICMP port unreachable answer fails the check at once.
// (keepalived: UDP_CHECK with payload and require_reply.)
type UDPSpec struct {
	// Payload is the datagram sent. Default: empty.
	Payload []byte `json:",omitempty"`
	// Expect is a regular expression (RE2) the reply must match.
	// Default: any reply.
	Expect string `json:",omitempty"`
	// NoReplyOK passes the check when nothing comes back within the
	// timeout and no ICMP error did either: keepalived's UDP_CHECK without
	// require_reply. Default: a reply is required.
	NoReplyOK bool `json:",omitempty"`
}

func (UDPSpec) Kind() Kind { return KindUDP }

func (s UDPSpec) normalized() Spec {
	if len(s.Payload) == 0 {
		s.Payload = nil
	}
	return s
}

func (s UDPSpec) Validate() error {
	if len(s.Payload) > 65507 {
		return fmt.Errorf("payload of %d bytes does not fit a UDP datagram", len(s.Payload))
	}
	if s.Expect != "" {
		if _, err := regexp.Compile(s.Expect); err != nil {
			return fmt.Errorf("expect: %w", err)
		}
		if s.NoReplyOK {
			return fmt.Errorf("expect needs a reply: it cannot go with no_reply_ok")
		}
	}
	return nil
}

func (s UDPSpec) build(t netip.AddrPort, set Settings, _ *Env) (Check, error) {
	c := &udpCheck{spec: s, addr: t.String(), timeout: set.Timeout, dialer: newDialer("udp", set)}
	if s.Expect != "" {
		var err error
		if c.expect, err = regexp.Compile(s.Expect); err != nil {
			return nil, fmt.Errorf("expect: %w", err)
		}
	}
	return c, nil
}

type udpCheck struct {
	spec    UDPSpec
	addr    string
	timeout time.Duration
	dialer  *net.Dialer
	expect  *regexp.Regexp
}

func (c *udpCheck) Check(ctx context.Context) Result {
	start := time.Now()
	ctx, cancel := withTimeout(ctx, c.timeout)
	defer cancel()
	fail := func(r string) Result { return Result{Reason: r, Latency: time.Since(start)} }

	conn, err := c.dialer.DialContext(ctx, "udp", c.addr)
	if err != nil {
		return fail(reason(ctx, "connect", err, c.timeout))
	}
	defer conn.Close()
	defer interruptOnDone(ctx, conn)()
	if _, err := conn.Write(c.spec.Payload); err != nil {
		return fail(reason(ctx, "send", err, c.timeout))
	}
	buf := make([]byte, 65536)
	n, err := conn.Read(buf)
	if err != nil {
		if c.spec.NoReplyOK && isTimeout(ctx, err) {
			return Result{OK: true, Reason: "no reply and no ICMP error", Latency: time.Since(start)}
		}
		return fail(udpReadReason(ctx, err, c.timeout))
	}
	if c.expect != nil && !c.expect.Match(buf[:n]) {
		return fail(fmt.Sprintf("reply %s does not match %q", quote(buf[:n], 64), c.spec.Expect))
	}
	return Result{OK: true, Reason: fmt.Sprintf("reply of %d bytes", n), Latency: time.Since(start)}
}
