package scenario

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mdlayher/arp"
	"golang.org/x/net/ipv4"
)

// Watchers that explain timing failures: an emulated machine on a busy
// host stalls now and then, and a stall longer than Master_Down_Interval
// makes a backup take over although the master is fine.

// StallWatch measures how late a 5ms timer fires in this process: a late
// timer means the whole machine (or this process) did not run.
type StallWatch struct {
	stop chan struct{}
	done chan struct{}
	mu   sync.Mutex
	// worst stalls, largest first (at most 5)
	stalls []Stall
}

// Stall is one late wake-up.
type Stall struct {
	At  time.Time
	Len time.Duration
}

// WatchStalls starts a StallWatch.
func WatchStalls() *StallWatch {
	w := &StallWatch{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(w.done)
		const tick = 5 * time.Millisecond
		last := time.Now()
		for {
			select {
			case <-w.stop:
				return
			case <-time.After(tick):
			}
			now := time.Now()
			if late := now.Sub(last) - tick; late > 50*time.Millisecond {
				w.add(Stall{At: last, Len: late})
			}
			last = now
		}
	}()
	return w
}

func (w *StallWatch) add(s Stall) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.stalls = append(w.stalls, s)
	for i := len(w.stalls) - 1; i > 0 && w.stalls[i].Len > w.stalls[i-1].Len; i-- {
		w.stalls[i], w.stalls[i-1] = w.stalls[i-1], w.stalls[i]
	}
	if len(w.stalls) > 5 {
		w.stalls = w.stalls[:5]
	}
}

// Worst returns the longest stalls seen, largest first.
func (w *StallWatch) Worst() []Stall {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]Stall(nil), w.stalls...)
}

// Stop stops watching.
func (w *StallWatch) Stop() {
	close(w.stop)
	<-w.done
}

// AdvertWatch records the VRRP adverts seen on a node's interface: who sent
// them, with which priority, and the longest silence of each sender.
type AdvertWatch struct {
	pc   *ipv4.PacketConn
	done chan struct{}
	mu   sync.Mutex
	last map[netip.Addr]time.Time
	gaps map[netip.Addr]Stall // longest gap per sender, and when it began
	n    map[netip.Addr]int
}

// WatchAdverts joins the VRRP group (224.0.0.18) on dev of node and
// records the adverts that arrive.
func WatchAdverts(node *Node, dev string) (*AdvertWatch, error) {
	var c net.PacketConn
	if err := node.Do(func() (err error) {
		c, err = net.ListenPacket("ip4:112", "0.0.0.0")
		return err
	}); err != nil {
		return nil, fmt.Errorf("VRRP listener on %s: %w", node.Name, err)
	}
	pc := ipv4.NewPacketConn(c)
	var ifi *net.Interface
	if err := node.Do(func() (err error) { ifi, err = net.InterfaceByName(dev); return err }); err != nil {
		c.Close()
		return nil, err
	}
	if err := pc.JoinGroup(ifi, &net.IPAddr{IP: net.IPv4(224, 0, 0, 18)}); err != nil {
		c.Close()
		return nil, fmt.Errorf("join the VRRP group on %s: %w", node.Name, err)
	}
	w := &AdvertWatch{pc: pc, done: make(chan struct{}), last: map[netip.Addr]time.Time{}, gaps: map[netip.Addr]Stall{}, n: map[netip.Addr]int{}}
	go func() {
		defer close(w.done)
		buf := make([]byte, 1500)
		for {
			_, _, src, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			now := time.Now()
			ip, ok := netip.AddrFromSlice(src.(*net.IPAddr).IP)
			if !ok {
				continue
			}
			ip = ip.Unmap()
			w.mu.Lock()
			if prev, ok := w.last[ip]; ok {
				if g := now.Sub(prev); g > w.gaps[ip].Len {
					w.gaps[ip] = Stall{At: prev, Len: g}
				}
			}
			w.last[ip] = now
			w.n[ip]++
			w.mu.Unlock()
		}
	}()
	return w, nil
}

// Gaps returns each sender's longest silence between two adverts and its
// advert count.
func (w *AdvertWatch) Gaps() map[netip.Addr]Stall {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := map[netip.Addr]Stall{}
	for k, v := range w.gaps {
		out[k] = v
	}
	return out
}

// Count is how many adverts came from src.
func (w *AdvertWatch) Count(src netip.Addr) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.n[src]
}

// Stop stops listening.
func (w *AdvertWatch) Stop() {
	w.pc.Close()
	<-w.done
}

// ARPWatch records the ARP packets arriving on a node's interface that
// speak for one address (its sender is that address): when, and with
// which hardware address. The node's neighbour entry follows them, so for
// the client and the VIP they are the moments its traffic moved from one
// director to the other, as the client saw them rather than as a
// director's log says.
type ARPWatch struct {
	c       *arp.Client
	done    chan struct{}
	stopped atomic.Bool
	mu      sync.Mutex
	seen    []ARPSeen
}

// ARPSeen is one ARP packet speaking for the watched address.
type ARPSeen struct {
	At  time.Time
	MAC net.HardwareAddr
}

// WatchARP records the ARP packets for ip that arrive on dev of node.
func WatchARP(node *Node, dev string, ip netip.Addr) (*ARPWatch, error) {
	var c *arp.Client
	if err := node.Do(func() error {
		ifi, err := net.InterfaceByName(dev)
		if err != nil {
			return err
		}
		c, err = arp.Dial(ifi)
		return err
	}); err != nil {
		return nil, fmt.Errorf("ARP listener on %s: %w", node.Name, err)
	}
	w := &ARPWatch{c: c, done: make(chan struct{})}
	go func() {
		defer close(w.done)
		for {
			p, _, err := c.Read()
			if err != nil {
				if w.stopped.Load() || errors.Is(err, net.ErrClosed) {
					return
				}
				// A malformed frame is not ours to judge; a socket error
				// that repeats must not spin.
				time.Sleep(time.Millisecond)
				continue
			}
			if p.SenderIP != ip {
				continue
			}
			now := time.Now()
			w.mu.Lock()
			w.seen = append(w.seen, ARPSeen{At: now, MAC: slices.Clone(p.SenderHardwareAddr)})
			w.mu.Unlock()
		}
	}()
	return w, nil
}

// FirstFrom is when the first ARP packet for the address from mac arrived
// at or after since.
func (w *ARPWatch) FirstFrom(mac net.HardwareAddr, since time.Time) (time.Time, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, s := range w.seen {
		if !s.At.Before(since) && bytes.Equal(s.MAC, mac) {
			return s.At, true
		}
	}
	return time.Time{}, false
}

// Seen returns the ARP packets recorded at or after since.
func (w *ARPWatch) Seen(since time.Time) []ARPSeen {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []ARPSeen
	for _, s := range w.seen {
		if !s.At.Before(since) {
			out = append(out, s)
		}
	}
	return out
}

// Stop stops listening.
func (w *ARPWatch) Stop() {
	w.stopped.Store(true)
	w.c.Close()
	<-w.done
}
