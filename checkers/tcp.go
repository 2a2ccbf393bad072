package checkers

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"regexp"
	"time"
)

// TCPSpec is a layer-4 check: the target accepts a connection within the
// timeout. Optionally Send is written once connected and the reply must
// match Expect. (keepalived: TCP_CHECK.)
type TCPSpec struct {
	// Send is written after connecting. Default: nothing.
	Send string `json:",omitempty"`
	// Expect is a regular expression (RE2 syntax) that the reply must
	// match; reading stops at the first match. Default: no reply needed.
	Expect string `json:",omitempty"`
	// MaxReply caps the bytes read looking for Expect. Default 4096.
	MaxReply int `json:",omitempty"`
	// GracefulClose ends the connection with FIN instead of RST. RST (the
	// default, as HAProxy does) leaves no TIME_WAIT socket on the director
	// for every check; some servers log it as an error.
	GracefulClose bool `json:",omitempty"`
}

const defaultMaxReply = 4096

func (TCPSpec) Kind() Kind { return KindTCP }

func (s TCPSpec) normalized() Spec {
	if s.MaxReply == 0 {
		s.MaxReply = defaultMaxReply
	}
	return s
}

func (s TCPSpec) Validate() error {
	n := s.normalized().(TCPSpec)
	if n.MaxReply < 1 || n.MaxReply > 1<<20 {
		return fmt.Errorf("max reply %d is not in 1..%d", n.MaxReply, 1<<20)
	}
	if s.Expect != "" {
		if _, err := regexp.Compile(s.Expect); err != nil {
			return fmt.Errorf("expect: %w", err)
		}
	}
	return nil
}

func (s TCPSpec) build(t netip.AddrPort, set Settings, env *Env) (Check, error) {
	if s.Send == "" && s.Expect == "" && env != nil {
		return &tcpConnect{conn: env.conn, target: t, set: set, graceful: s.GracefulClose}, nil
	}
	c := &tcpCheck{
		spec:    s,
		addr:    t.String(),
		timeout: set.Timeout,
		dialer:  newDialer("tcp", set),
	}
	if s.Expect != "" {
		var err error
		if c.expect, err = regexp.Compile(s.Expect); err != nil {
			return nil, fmt.Errorf("expect: %w", err)
		}
	}
	return c, nil
}

// tcpConnect is a plain connect check run by the Env's epoll loop.
type tcpConnect struct {
	conn     *connector
	target   netip.AddrPort
	set      Settings
	graceful bool
}

func (c *tcpConnect) Check(ctx context.Context) Result {
	ch := make(chan Result, 1)
	c.start(ctx, func(r Result) { ch <- r })
	select {
	case r := <-ch:
		return r
	case <-ctx.Done():
		// The connect's own timer ends it; its result is dropped.
		return Result{Reason: "connect: cancelled"}
	}
}

func (c *tcpConnect) start(_ context.Context, done func(Result)) {
	c.conn.connect(c.target, c.set, c.graceful, done)
}

type tcpCheck struct {
	spec    TCPSpec
	addr    string
	timeout time.Duration
	dialer  *net.Dialer
	expect  *regexp.Regexp
}

func (c *tcpCheck) Check(ctx context.Context) Result {
	start := time.Now()
	ctx, cancel := withTimeout(ctx, c.timeout)
	defer cancel()
	conn, err := c.dialer.DialContext(ctx, "tcp", c.addr)
	if err != nil {
		return Result{Reason: reason(ctx, "connect", err, c.timeout), Latency: time.Since(start)}
	}
	tc := conn.(*net.TCPConn)
	defer func() {
		if !c.spec.GracefulClose {
			_ = tc.SetLinger(0)
		}
		tc.Close()
	}()
	if c.spec.Send == "" && c.expect == nil {
		return Result{OK: true, Reason: "connected", Latency: time.Since(start)}
	}
	defer interruptOnDone(ctx, tc)()
	if c.spec.Send != "" {
		if _, err := tc.Write([]byte(c.spec.Send)); err != nil {
			return Result{Reason: reason(ctx, "send", err, c.timeout), Latency: time.Since(start)}
		}
	}
	if c.expect == nil {
		return Result{OK: true, Reason: "sent", Latency: time.Since(start)}
	}
	buf := make([]byte, 0, min(c.spec.MaxReply, 512))
	tmp := make([]byte, min(c.spec.MaxReply, 4096))
	for {
		n, err := tc.Read(tmp[:min(len(tmp), c.spec.MaxReply-len(buf))])
		buf = append(buf, tmp[:n]...)
		if c.expect.Match(buf) {
			return Result{OK: true, Reason: "reply matched", Latency: time.Since(start)}
		}
		if err != nil {
			if len(buf) > 0 {
				return Result{Reason: fmt.Sprintf("reply %s does not match %q (%s)", quote(buf, 64), c.spec.Expect, errText(ctx, err, c.timeout)), Latency: time.Since(start)}
			}
			return Result{Reason: reason(ctx, "read", err, c.timeout), Latency: time.Since(start)}
		}
		if len(buf) >= c.spec.MaxReply {
			return Result{Reason: fmt.Sprintf("reply %s does not match %q in %d bytes", quote(buf, 64), c.spec.Expect, len(buf)), Latency: time.Since(start)}
		}
	}
}
