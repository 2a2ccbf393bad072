package vrrptest

import (
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/lvsd/lvsd/test/nstest"
)

// StartEcho runs a UDP echo responder on EchoPort in ns that answers with
// name, until the test ends.
func StartEcho(t testing.TB, ns *nstest.NS, name string) {
	t.Helper()
	var pc net.PacketConn
	if err := ns.Do(func() (err error) {
		pc, err = net.ListenPacket("udp", fmt.Sprintf(":%d", EchoPort))
		return err
	}); err != nil {
		t.Fatalf("echo responder in %s: %v", ns.Name, err)
	}
	t.Cleanup(func() { pc.Close() })
	bigBuffers(t, pc)
	go func() {
		buf := make([]byte, 64)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			if n >= 8 {
				reply := append(append([]byte(nil), buf[:8]...), name...)
				pc.WriteTo(reply, from)
			}
		}
	}()
}

// bigBuffers gives a harness socket 8MB of buffers, so a moment when the
// test process is not scheduled delays replies instead of dropping them
// (which would count as an outage of the daemon under test).
func bigBuffers(t testing.TB, pc net.PacketConn) {
	rc, err := pc.(*net.UDPConn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var serr error
	rc.Control(func(fd uintptr) {
		for _, o := range []int{unix.SO_RCVBUFFORCE, unix.SO_SNDBUFFORCE} {
			if err := unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, o, 8<<20); err != nil {
				serr = err
			}
		}
	})
	if serr != nil {
		t.Fatalf("socket buffers: %v", serr)
	}
}

// Prober sends a UDP probe to an address every interval and records which
// node answered when.
type Prober struct {
	pc   net.PacketConn
	dst  *net.UDPAddr
	stop chan struct{}
	done sync.WaitGroup

	mu      sync.Mutex
	replies []reply
	sends   []time.Time // by sequence number - 1
}

type reply struct {
	at   time.Time
	seq  uint64
	node string
}

// StartProber probes vip's echo responder from ns every interval until
// the test ends.
func StartProber(t testing.TB, ns *nstest.NS, vip netip.Addr, interval time.Duration) *Prober {
	t.Helper()
	p := &Prober{dst: &net.UDPAddr{IP: vip.AsSlice(), Port: EchoPort}, stop: make(chan struct{})}
	if err := ns.Do(func() (err error) {
		p.pc, err = net.ListenPacket("udp", ":0")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	bigBuffers(t, p.pc)
	p.done.Add(2)
	go func() {
		defer p.done.Done()
		buf := make([]byte, 64)
		for {
			n, _, err := p.pc.ReadFrom(buf)
			if err != nil {
				return
			}
			now := time.Now()
			if n < 8 {
				continue
			}
			p.mu.Lock()
			p.replies = append(p.replies, reply{at: now, seq: binary.BigEndian.Uint64(buf), node: string(buf[8:n])})
			p.mu.Unlock()
		}
	}()
	go func() {
		defer p.done.Done()
		tk := time.NewTicker(interval)
		defer tk.Stop()
		var seq uint64
		msg := make([]byte, 8)
		for {
			select {
			case <-p.stop:
				return
			case <-tk.C:
			}
			seq++
			binary.BigEndian.PutUint64(msg, seq)
			p.mu.Lock()
			p.sends = append(p.sends, time.Now())
			p.mu.Unlock()
			p.pc.WriteTo(msg, p.dst)
		}
	}()
	t.Cleanup(p.Close)
	return p
}

// Close stops probing.
func (p *Prober) Close() {
	select {
	case <-p.stop:
		return
	default:
	}
	close(p.stop)
	p.pc.Close()
	p.done.Wait()
}

// Outage is the client's longest loss of service in [from, to]: for each
// run of unanswered probes, from the send time of the last answered probe
// before it to the send time of the first answered one after (a stall of
// the prober itself loses no probe and counts nothing). It waits until to
// has passed, and returns the node answering at the end.
func (p *Prober) Outage(from, to time.Time) (time.Duration, string) {
	time.Sleep(time.Until(to.Add(20 * time.Millisecond)))
	p.mu.Lock()
	defer p.mu.Unlock()
	answered := map[uint64]string{}
	for _, r := range p.replies {
		answered[r.seq] = r.node
	}
	var worst time.Duration
	var lastOK time.Time
	node := ""
	lost := false
	for k, at := range p.sends {
		if at.Before(from) {
			if _, ok := answered[uint64(k+1)]; ok {
				lastOK = at
			}
			continue
		}
		if at.After(to) {
			break
		}
		n, ok := answered[uint64(k+1)]
		if !ok {
			lost = true
			continue
		}
		if lost && !lastOK.IsZero() {
			worst = max(worst, at.Sub(lastOK))
		}
		lost, lastOK, node = false, at, n
	}
	if lost && !lastOK.IsZero() {
		worst = max(worst, to.Sub(lastOK))
	}
	return worst, node
}

// WaitAnswer waits until node answers a probe, and returns when.
func (p *Prober) WaitAnswer(t testing.TB, d time.Duration, node string) time.Time {
	t.Helper()
	start := time.Now()
	for {
		p.mu.Lock()
		for _, r := range p.replies {
			if !r.at.Before(start) && r.node == node {
				p.mu.Unlock()
				return r.at
			}
		}
		p.mu.Unlock()
		if time.Since(start) > d {
			t.Fatalf("no probe answered by %s within %v", node, d)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// AnsweredBy lists the nodes that answered probes between from and to, in
// order of first answer.
func (p *Prober) AnsweredBy(from, to time.Time) []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []string
	seen := map[string]bool{}
	for _, r := range p.replies {
		if r.at.Before(from) || r.at.After(to) || seen[r.node] {
			continue
		}
		seen[r.node] = true
		out = append(out, r.node)
	}
	return out
}

// Answered reports whether node answers a probe within d.
func (p *Prober) Answered(d time.Duration, node string) bool {
	start := time.Now()
	for time.Since(start) < d {
		p.mu.Lock()
		for k := len(p.replies) - 1; k >= 0 && !p.replies[k].at.Before(start); k-- {
			if p.replies[k].node == node {
				p.mu.Unlock()
				return true
			}
		}
		p.mu.Unlock()
		time.Sleep(5 * time.Millisecond)
	}
	return false
}
