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
	"sync"
	"sync/atomic"
	"time"

	"github.com/sirupsen/logrus"
	"golang.org/x/net/bpf"
	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
	"golang.org/x/sys/unix"

	"github.com/lvsd/lvsd/internal/ratelog"
)

// Pinger sends ICMP echo requests for every icmp check through one raw
// socket per address family, and hands each reply to the check waiting
// for it by identifier, sequence number, peer address and a per-socket
// cookie in the payload. Sockets open on first use (in the network
// namespace of the calling thread) and stay open until Close. It needs
// CAP_NET_RAW.
type Pinger struct {
	log logrus.FieldLogger

	mu     sync.Mutex
	closed bool
	v4, v6 *pingConn

	opens atomic.Int64 // sockets opened, for tests
}

// NewPinger returns a Pinger; log receives socket errors (nil: discard).
func NewPinger(log logrus.FieldLogger) *Pinger {
	if log == nil {
		l := logrus.New()
		l.Out = io.Discard
		log = l
	}
	return &Pinger{log: log.WithField("component", "checkers")}
}

// Close closes the sockets and stops their readers; pings in flight fail.
func (p *Pinger) Close() error {
	p.mu.Lock()
	p.closed = true
	v4, v6 := p.v4, p.v6
	p.v4, p.v6 = nil, nil
	p.mu.Unlock()
	var errs []error
	for _, c := range []*pingConn{v4, v6} {
		if c != nil {
			errs = append(errs, c.close())
		}
	}
	return errors.Join(errs...)
}

// PingResult is the answer to one echo request.
type PingResult struct {
	RTT time.Duration
	// Err is an ICMP error returned for the request (destination
	// unreachable, time exceeded), or nil for an echo reply.
	Err error
}

// Ping sends one echo request of size payload bytes (at least 16) to dst,
// from src and out of interface ifIndex if they are set, and waits for the
// reply or an ICMP error until ctx is done.
func (p *Pinger) Ping(ctx context.Context, dst, src netip.Addr, ifIndex, size int) (PingResult, error) {
	type answer struct {
		r   PingResult
		err error
	}
	ch := make(chan answer, 1)
	timeout := time.Duration(0)
	if d, ok := ctx.Deadline(); ok {
		timeout = max(time.Until(d), time.Nanosecond)
	}
	cancel := p.start(dst, src, ifIndex, size, timeout, func(r PingResult, err error) { ch <- answer{r, err} })
	select {
	case a := <-ch:
		if errors.Is(a.err, errPingTimeout) {
			return a.r, context.DeadlineExceeded
		}
		return a.r, a.err
	case <-ctx.Done():
		cancel()
		return PingResult{}, ctx.Err()
	}
}

// errPingTimeout is what a ping that got no answer in time ends with.
var errPingTimeout = errors.New("no echo reply in time")

// start sends one echo request and returns at once; done is called once,
// from another goroutine, with the reply, an ICMP error (in the result),
// errPingTimeout after timeout (zero: none), or a send error. cancel
// abandons the wait.
func (p *Pinger) start(dst, src netip.Addr, ifIndex, size int, timeout time.Duration, done func(PingResult, error)) (cancel func()) {
	dst = dst.Unmap()
	c, err := p.conn(dst.Is4())
	if err != nil {
		done(PingResult{}, err)
		return func() {}
	}
	return c.start(dst, src.Unmap(), ifIndex, size, timeout, done)
}

func (p *Pinger) conn(v4 bool) (*pingConn, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil, errors.New("pinger closed")
	}
	slot := &p.v6
	if v4 {
		slot = &p.v4
	}
	if *slot != nil && !(*slot).dead.Load() {
		return *slot, nil
	}
	c, err := openPingConn(v4, p.log)
	if err != nil {
		return nil, err
	}
	p.opens.Add(1)
	*slot = c
	return c, nil
}

type pingWaiter struct {
	dst      netip.Addr
	seq      uint16
	sent     time.Time
	timer    *time.Timer
	finished atomic.Bool
	done     func(PingResult, error)
}

type pingConn struct {
	v4     bool
	pc     *net.IPConn
	p4     *ipv4.PacketConn
	p6     *ipv6.PacketConn
	id     uint16
	cookie [8]byte
	log    logrus.FieldLogger
	dead   atomic.Bool
	done   chan struct{}
	// received counts packets that passed the kernel filter (tests).
	received atomic.Int64

	mu      sync.Mutex
	seq     uint16
	waiting map[uint16]*pingWaiter
}

func openPingConn(v4 bool, log logrus.FieldLogger) (*pingConn, error) {
	network, laddr := "ip6:ipv6-icmp", "::"
	if v4 {
		network, laddr = "ip4:icmp", "0.0.0.0"
	}
	lc, err := net.ListenPacket(network, laddr)
	if err != nil {
		return nil, fmt.Errorf("icmp socket: %w", err)
	}
	pc := lc.(*net.IPConn)
	c := &pingConn{v4: v4, pc: pc, log: log, done: make(chan struct{}), waiting: map[uint16]*pingWaiter{}}
	var b [12]byte
	_, _ = rand.Read(b[:])
	c.id = binary.BigEndian.Uint16(b[0:2])
	c.seq = binary.BigEndian.Uint16(b[2:4])
	copy(c.cookie[:], b[4:])
	// A raw socket sees every ICMP packet the host receives (on loopback
	// our own echo requests too): a kernel filter keeps out all but the
	// replies to this socket's identifier and the errors, so a burst of
	// thousands of checks does not overflow the receive buffer.
	prog, err := pingFilter(v4, c.id)
	if err == nil {
		if v4 {
			c.p4 = ipv4.NewPacketConn(pc)
			err = c.p4.SetBPF(prog)
		} else {
			c.p6 = ipv6.NewPacketConn(pc)
			var f ipv6.ICMPFilter
			f.SetAll(true)
			f.Accept(ipv6.ICMPTypeEchoReply)
			f.Accept(ipv6.ICMPTypeDestinationUnreachable)
			f.Accept(ipv6.ICMPTypeTimeExceeded)
			f.Accept(ipv6.ICMPTypePacketTooBig)
			if err = c.p6.SetICMPFilter(&f); err == nil {
				err = c.p6.SetBPF(prog)
			}
		}
	}
	if err != nil {
		pc.Close()
		return nil, fmt.Errorf("icmp socket filter: %w", err)
	}
	setReadBuffer(pc, pingReadBuffer)
	go c.readLoop()
	return c, nil
}

// pingReadBuffer holds a burst of replies: about 2 KiB of kernel memory
// each, so 4 MiB is room for some 2,000 at once.
const pingReadBuffer = 4 << 20

// setReadBuffer raises the socket's receive buffer, past net.core.rmem_max
// where lvsd may (SO_RCVBUFFORCE needs CAP_NET_ADMIN).
func setReadBuffer(pc *net.IPConn, n int) {
	rc, err := pc.SyscallConn()
	if err != nil {
		return
	}
	_ = rc.Control(func(fd uintptr) {
		if unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, n) != nil {
			_ = pc.SetReadBuffer(n)
		}
	})
}

// pingFilter is a classic BPF program that accepts echo replies with
// identifier id and ICMP errors, and drops everything else. On an IPv4
// raw socket the packet starts with the IP header, on IPv6 with ICMPv6.
func pingFilter(v4 bool, id uint16) ([]bpf.RawInstruction, error) {
	reply, unreach, exceeded, tooBig := uint32(0), uint32(3), uint32(11), uint32(255)
	var head []bpf.Instruction
	load := func(off uint32, size int) bpf.Instruction { return bpf.LoadAbsolute{Off: off, Size: size} }
	if v4 {
		// X = IP header length; then load relative to it.
		head = []bpf.Instruction{bpf.LoadMemShift{Off: 0}}
		load = func(off uint32, size int) bpf.Instruction { return bpf.LoadIndirect{Off: off, Size: size} }
	} else {
		reply, unreach, exceeded, tooBig = 129, 1, 3, 2
	}
	prog := append(head,
		load(0, 1), // type
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: reply, SkipFalse: 2},
		load(4, 2), // identifier
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: uint32(id), SkipTrue: 3, SkipFalse: 4},
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: unreach, SkipTrue: 2},
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: exceeded, SkipTrue: 1},
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: tooBig, SkipFalse: 1},
		bpf.RetConstant{Val: 0xffff},
		bpf.RetConstant{Val: 0},
	)
	return bpf.Assemble(prog)
}

func (c *pingConn) close() error {
	err := c.pc.Close()
	<-c.done
	c.mu.Lock()
	waiting := make([]*pingWaiter, 0, len(c.waiting))
	for _, w := range c.waiting {
		waiting = append(waiting, w)
	}
	c.mu.Unlock()
	for _, w := range waiting {
		c.finish(w, PingResult{}, errors.New("icmp socket closed"))
	}
	return err
}

// finish completes w once.
func (c *pingConn) finish(w *pingWaiter, r PingResult, err error) {
	if !w.finished.CompareAndSwap(false, true) {
		return
	}
	c.mu.Lock()
	if c.waiting[w.seq] == w {
		delete(c.waiting, w.seq)
	}
	c.mu.Unlock()
	if w.timer != nil {
		w.timer.Stop()
	}
	w.done(r, err)
}

func (c *pingConn) start(dst, src netip.Addr, ifIndex, size int, timeout time.Duration, done func(PingResult, error)) (cancel func()) {
	size = max(size, 16)
	w := &pingWaiter{dst: dst, done: done}
	c.mu.Lock()
	if len(c.waiting) >= 1<<16-1 {
		c.mu.Unlock()
		done(PingResult{}, errors.New("too many echo requests in flight"))
		return func() {}
	}
	seq := c.seq
	for {
		seq++
		if _, busy := c.waiting[seq]; !busy {
			break
		}
	}
	c.seq = seq
	w.seq = seq
	c.waiting[seq] = w
	w.sent = time.Now()
	if timeout > 0 {
		w.timer = time.AfterFunc(timeout, func() { c.finish(w, PingResult{RTT: time.Since(w.sent)}, errPingTimeout) })
	}
	c.mu.Unlock()
	cancel = func() { c.finish(w, PingResult{}, context.Canceled) }

	data := make([]byte, size)
	copy(data, c.cookie[:])
	var typ icmp.Type = ipv4.ICMPTypeEcho
	if !c.v4 {
		typ = ipv6.ICMPTypeEchoRequest
	}
	msg := icmp.Message{Type: typ, Body: &icmp.Echo{ID: int(c.id), Seq: int(seq), Data: data}}
	b, err := msg.Marshal(nil) // the kernel fills the ICMPv6 checksum
	if err != nil {
		c.finish(w, PingResult{}, fmt.Errorf("marshal echo: %w", err))
		return cancel
	}
	to := &net.IPAddr{IP: dst.AsSlice()}
	if c.v4 {
		var cm *ipv4.ControlMessage
		if src.IsValid() || ifIndex > 0 {
			cm = &ipv4.ControlMessage{IfIndex: ifIndex}
			if src.IsValid() {
				cm.Src = src.AsSlice()
			}
		}
		_, err = c.p4.WriteTo(b, cm, to)
	} else {
		var cm *ipv6.ControlMessage
		if src.IsValid() || ifIndex > 0 {
			cm = &ipv6.ControlMessage{IfIndex: ifIndex}
			if src.IsValid() {
				cm.Src = src.AsSlice()
			}
		}
		_, err = c.p6.WriteTo(b, cm, to)
	}
	if err != nil {
		c.finish(w, PingResult{}, fmt.Errorf("send echo: %w", err))
	}
	return cancel
}

func (c *pingConn) readLoop() {
	defer close(c.done)
	defer c.dead.Store(true)
	proto := 1
	if !c.v4 {
		proto = 58
	}
	buf := make([]byte, 1500)
	for {
		n, peer, err := c.pc.ReadFrom(buf)
		if err != nil {
			if !errors.Is(err, net.ErrClosed) {
				ratelog.Warn(c.log.WithError(err), "icmp socket read failed; it will be reopened")
			}
			return
		}
		now := time.Now()
		c.received.Add(1)
		msg, err := icmp.ParseMessage(proto, buf[:n])
		if err != nil {
			continue
		}
		from := addrFrom(peer)
		switch body := msg.Body.(type) {
		case *icmp.Echo:
			if msg.Type != ipv4.ICMPTypeEchoReply && msg.Type != ipv6.ICMPTypeEchoReply {
				continue
			}
			if body.ID != int(c.id) || len(body.Data) < len(c.cookie) || string(body.Data[:len(c.cookie)]) != string(c.cookie[:]) {
				continue
			}
			c.deliver(uint16(body.Seq), from, func(w *pingWaiter) PingResult {
				return PingResult{RTT: now.Sub(w.sent)}
			})
		case *icmp.DstUnreach:
			c.deliverError(body.Data, from, now, fmt.Sprintf("destination unreachable (%s) from %s", unreachName(c.v4, msg.Code), from))
		case *icmp.TimeExceeded:
			c.deliverError(body.Data, from, now, fmt.Sprintf("time exceeded from %s", from))
		case *icmp.PacketTooBig:
			c.deliverError(body.Data, from, now, fmt.Sprintf("packet too big (mtu %d) from %s", body.MTU, from))
		}
	}
}

// deliverError finds the echo request quoted in an ICMP error and fails it.
func (c *pingConn) deliverError(quoted []byte, from netip.Addr, now time.Time, text string) {
	dst, id, seq, ok := quotedEcho(c.v4, quoted)
	if !ok || id != c.id {
		return
	}
	c.mu.Lock()
	w := c.waiting[seq]
	c.mu.Unlock()
	if w == nil || w.dst != dst {
		return
	}
	c.finish(w, PingResult{RTT: now.Sub(w.sent), Err: errors.New(text)}, nil)
}

func (c *pingConn) deliver(seq uint16, from netip.Addr, res func(*pingWaiter) PingResult) {
	c.mu.Lock()
	w := c.waiting[seq]
	c.mu.Unlock()
	if w == nil || w.dst != from {
		return
	}
	c.finish(w, res(w), nil)
}

// quotedEcho extracts destination, identifier and sequence of the echo
// request an ICMP error quotes: the original IP header and at least 8
// bytes of its ICMP message.
func quotedEcho(v4 bool, b []byte) (dst netip.Addr, id, seq uint16, ok bool) {
	var icmpb []byte
	if v4 {
		if len(b) < 20 || b[0]>>4 != 4 {
			return
		}
		ihl := int(b[0]&0x0f) * 4
		if ihl < 20 || len(b) < ihl+8 || b[9] != 1 {
			return
		}
		dst = netip.AddrFrom4([4]byte(b[16:20]))
		icmpb = b[ihl:]
		if icmpb[0] != byte(ipv4.ICMPTypeEcho) {
			return
		}
	} else {
		if len(b) < 40+8 || b[0]>>4 != 6 || b[6] != 58 {
			return
		}
		dst = netip.AddrFrom16([16]byte(b[24:40]))
		icmpb = b[40:]
		if icmpb[0] != byte(ipv6.ICMPTypeEchoRequest) {
			return
		}
	}
	return dst, binary.BigEndian.Uint16(icmpb[4:6]), binary.BigEndian.Uint16(icmpb[6:8]), true
}

func unreachName(v4 bool, code int) string {
	if v4 {
		switch code {
		case 0:
			return "network unreachable"
		case 1:
			return "host unreachable"
		case 3:
			return "port unreachable"
		case 9, 10, 13:
			return "administratively prohibited"
		}
	} else {
		switch code {
		case 0:
			return "no route"
		case 1:
			return "administratively prohibited"
		case 3:
			return "address unreachable"
		case 4:
			return "port unreachable"
		}
	}
	return fmt.Sprintf("code %d", code)
}
