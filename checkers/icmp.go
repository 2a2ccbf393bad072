package checkers

import (
	"context"
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

func (s ICMPSpec) build(t netip.AddrPort, set Settings, env *buildEnv) (Check, error) {
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
	start := time.Now()
	ctx, cancel := withTimeout(ctx, c.timeout)
	defer cancel()
	ifIndex := 0
	if c.ifName != "" {
		ifIndex = int(c.ifIndex.Load())
		if ifIndex == 0 {
			ifi, err := net.InterfaceByName(c.ifName)
			if err != nil {
				return Result{Reason: fmt.Sprintf("interface %s: %v", c.ifName, err), Latency: time.Since(start)}
			}
			ifIndex = ifi.Index
			c.ifIndex.Store(int32(ifIndex))
		}
	}
	r, err := c.pinger.Ping(ctx, c.dst, c.src, ifIndex, c.size)
	if err != nil {
		return Result{Reason: "echo: " + errText(ctx, err, c.timeout), Latency: time.Since(start)}
	}
	if r.Err != nil {
		return Result{Reason: r.Err.Error(), Latency: r.RTT}
	}
	return Result{OK: true, Reason: "echo reply", Latency: r.RTT}
}
