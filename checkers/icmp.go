package checkers

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync/atomic"
	"time"
)

// ICMPSpec is a layer-3 check: an echo request (ICMP or ICMPv6) that must
// be answered within the timeout. All icmp checks share one raw socket per
// address family (see Pinger). (keepalived: PING_CHECK.)
type ICMPSpec struct {
	// Size of the echo payload in bytes. Default 56, as ping(8) sends.
	Size int
}

const defaultPingSize = 56

func (ICMPSpec) Kind() Kind { return KindICMP }

func (s ICMPSpec) normalized() Spec {
	if s.Size == 0 {
		s.Size = defaultPingSize
	}
	return s
}

func (s ICMPSpec) Validate() error {
	n := s.normalized().(ICMPSpec)
	if n.Size < 16 || n.Size > 65000 {
		return fmt.Errorf("payload size %d is not in 16..65000", n.Size)
	}
	return nil
}

func (s ICMPSpec) build(t netip.AddrPort, set Settings, env *Env) (Check, error) {
	return &icmpCheck{
		pinger:  env.pinger,
		dst:     t.Addr(),
		src:     set.Source,
		ifName:  set.Interface,
		size:    s.Size,
		timeout: set.Timeout,
	}, nil
}

type icmpCheck struct {
	pinger  *Pinger
	dst     netip.Addr
	src     netip.Addr
	ifName  string
	ifIndex atomic.Int32 // resolved on first use: the interface may come later
	size    int
	timeout time.Duration
}

func (c *icmpCheck) Check(ctx context.Context) Result {
	ch := make(chan Result, 1)
	c.start(ctx, func(r Result) { ch <- r })
	select {
	case r := <-ch:
		return r
	case <-ctx.Done():
		// The ping's own timer ends it; its result is dropped.
		return Result{Reason: "echo: cancelled"}
	}
}

// start sends the echo request and returns; done gets the result from
// the Pinger's reader or the timeout. The Runner calls it directly: an
// icmp check holds no goroutine while it waits.
func (c *icmpCheck) start(_ context.Context, done func(Result)) {
	start := time.Now()
	ifIndex := 0
	if c.ifName != "" {
		ifIndex = int(c.ifIndex.Load())
		if ifIndex == 0 {
			ifi, err := net.InterfaceByName(c.ifName)
			if err != nil {
				done(Result{Reason: fmt.Sprintf("interface %s: %v", c.ifName, err), Latency: time.Since(start)})
				return
			}
			ifIndex = ifi.Index
			c.ifIndex.Store(int32(ifIndex))
		}
	}
	c.pinger.start(c.dst, c.src, ifIndex, c.size, c.timeout, func(r PingResult, err error) {
		switch {
		case errors.Is(err, errPingTimeout):
			done(Result{Reason: "echo: timeout after " + fmtDuration(c.timeout), Latency: time.Since(start)})
		case err != nil:
			done(Result{Reason: "echo: " + err.Error(), Latency: time.Since(start)})
		case r.Err != nil:
			done(Result{Reason: r.Err.Error(), Latency: r.RTT})
		default:
			done(Result{OK: true, Reason: "echo reply", Latency: r.RTT})
		}
	})
}
