package checkers

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// connector runs the non-blocking connects of plain tcp checks (connect
// and nothing else, keepalived's TCP_CHECK) on one epoll instance watched
// by one goroutine. A check then costs its system calls (socket,
// setsockopt, connect, epoll_ctl, close; getsockopt when it fails) and no
// goroutine, channel or netpoller round trip of its own: at ten thousand checks a second that is most of
// the difference. The socket is created by the caller, in the caller's
// network namespace.
type connector struct {
	mu     sync.Mutex
	epfd   int
	epfile *os.File // epfd, registered with the runtime's poller
	wakefd int      // eventfd: Close wakes the loop through it
	err    error
	closed bool
	conns  map[int32]*pendingConn
	seq    uint32
	done   chan struct{}
}

type pendingConn struct {
	fd       int
	seq      uint32
	started  time.Time
	timeout  time.Duration
	timer    *time.Timer
	finished atomic.Bool
	done     func(Result)
}

func newConnector() *connector {
	return &connector{epfd: -1, wakefd: -1, conns: map[int32]*pendingConn{}}
}

// open starts the loop on first use; c.mu is held.
func (c *connector) open() error {
	if c.closed {
		return errors.New("connector closed")
	}
	if c.epfd >= 0 || c.err != nil {
		return c.err
	}
	// The epoll fd is itself pollable: the loop waits for it in Go's
	// netpoller rather than in a blocking epoll_wait, which would make the
	// runtime hand its P to another thread on every wait.
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		c.err = fmt.Errorf("epoll_create: %w", err)
		return c.err
	}
	wfd, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		unix.Close(epfd)
		c.err = fmt.Errorf("eventfd: %w", err)
		return c.err
	}
	if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, wfd, &unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(wfd)}); err != nil {
		unix.Close(epfd)
		unix.Close(wfd)
		c.err = fmt.Errorf("epoll_ctl: %w", err)
		return c.err
	}
	if err := unix.SetNonblock(epfd, true); err != nil {
		unix.Close(epfd)
		unix.Close(wfd)
		c.err = fmt.Errorf("epoll fd: %w", err)
		return c.err
	}
	f := os.NewFile(uintptr(epfd), "epoll")
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		unix.Close(wfd)
		c.err = fmt.Errorf("epoll fd: %w", err)
		return c.err
	}
	c.epfile, c.epfd, c.wakefd = f, epfd, wfd
	c.done = make(chan struct{})
	go c.loop(rc, epfd, wfd)
	return nil
}

// connect starts a connect to dst and calls done once with the result:
// from the loop, from the timeout, or at once on an early error.
func (c *connector) connect(dst netip.AddrPort, s Settings, graceful bool, done func(Result)) {
	start := time.Now()
	fail := func(r string) { done(Result{Reason: r, Latency: time.Since(start)}) }
	c.mu.Lock()
	err := c.open()
	c.mu.Unlock()
	if err != nil {
		fail("connect: " + err.Error())
		return
	}
	family := unix.AF_INET6
	if dst.Addr().Is4() {
		family = unix.AF_INET
	}
	fd, err := unix.Socket(family, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, unix.IPPROTO_TCP)
	if err != nil {
		fail("socket: " + err.Error())
		return
	}
	if !graceful {
		// Close with a reset: no TIME_WAIT socket per check.
		_ = unix.SetsockoptLinger(fd, unix.SOL_SOCKET, unix.SO_LINGER, &unix.Linger{Onoff: 1, Linger: 0})
	}
	if s.Interface != "" {
		if err := unix.BindToDevice(fd, s.Interface); err != nil {
			unix.Close(fd)
			fail("connect: bind to interface " + s.Interface + ": " + err.Error())
			return
		}
	}
	if s.Source.IsValid() {
		if err := unix.Bind(fd, sockaddr(netip.AddrPortFrom(s.Source, 0))); err != nil {
			unix.Close(fd)
			fail("connect: bind to " + s.Source.String() + ": " + err.Error())
			return
		}
	}
	err = unix.Connect(fd, sockaddr(dst))
	if err == nil {
		unix.Close(fd)
		done(Result{OK: true, Reason: "connected", Latency: time.Since(start)})
		return
	}
	if err != unix.EINPROGRESS {
		unix.Close(fd)
		fail("connect: " + err.Error())
		return
	}
	p := &pendingConn{fd: fd, started: start, timeout: s.Timeout, done: done}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		unix.Close(fd)
		fail("connect: cancelled")
		return
	}
	c.seq++
	p.seq = c.seq
	c.conns[int32(fd)] = p
	p.timer = time.AfterFunc(max(s.Timeout-time.Since(start), 0), func() { c.expire(p) })
	epfd := c.epfd
	c.mu.Unlock()
	ev := unix.EpollEvent{Events: unix.EPOLLOUT | unix.EPOLLONESHOT, Fd: int32(fd), Pad: int32(p.seq)}
	if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, fd, &ev); err != nil {
		c.finish(p, Result{Reason: "connect: epoll_ctl: " + err.Error(), Latency: time.Since(start)}, true)
	}
}

// finish completes p once: the first caller closes the socket and reports.
func (c *connector) finish(p *pendingConn, r Result, drop bool) {
	if !p.finished.CompareAndSwap(false, true) {
		return
	}
	if drop {
		c.mu.Lock()
		if c.conns[int32(p.fd)] == p {
			delete(c.conns, int32(p.fd))
		}
		c.mu.Unlock()
	}
	p.timer.Stop()
	unix.Close(p.fd)
	p.done(r)
}

func (c *connector) expire(p *pendingConn) {
	c.finish(p, Result{Reason: "connect: timeout after " + fmtDuration(p.timeout), Latency: time.Since(p.started)}, true)
}

func (c *connector) loop(rc syscall.RawConn, epfd, wakefd int) {
	defer close(c.done)
	events := make([]unix.EpollEvent, 256)
	for {
		var n int
		var err error
		rerr := rc.Read(func(uintptr) bool {
			n, err = unix.EpollWait(epfd, events, 0)
			return err != nil || n > 0
		})
		if rerr != nil {
			return
		}
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return
		}
		now := time.Now()
		for _, ev := range events[:n] {
			if int(ev.Fd) == wakefd {
				return
			}
			c.mu.Lock()
			p := c.conns[ev.Fd]
			if p == nil || p.seq != uint32(ev.Pad) {
				// The timeout won and the number was reused.
				c.mu.Unlock()
				continue
			}
			delete(c.conns, ev.Fd)
			c.mu.Unlock()
			if p.finished.Load() {
				continue
			}
			r := Result{OK: true, Reason: "connected", Latency: now.Sub(p.started)}
			// Writable without error or hang-up: connected, no need to
			// ask. Otherwise the socket error says why.
			if ev.Events&(unix.EPOLLERR|unix.EPOLLHUP) != 0 || ev.Events&unix.EPOLLOUT == 0 {
				soerr, err := unix.GetsockoptInt(p.fd, unix.SOL_SOCKET, unix.SO_ERROR)
				switch {
				case err != nil:
					r = Result{Reason: "connect: getsockopt: " + err.Error(), Latency: r.Latency}
				case soerr != 0:
					r = Result{Reason: "connect: " + unix.Errno(soerr).Error(), Latency: r.Latency}
				default:
					r = Result{Reason: "connect: connection closed", Latency: r.Latency}
				}
			}
			c.finish(p, r, false)
		}
	}
}

// close stops the loop and fails the connects in flight.
func (c *connector) close() {
	c.mu.Lock()
	c.closed = true
	epfd, wakefd, done := c.epfd, c.wakefd, c.done
	pending := make([]*pendingConn, 0, len(c.conns))
	for _, p := range c.conns {
		pending = append(pending, p)
	}
	clear(c.conns)
	c.mu.Unlock()
	if epfd >= 0 {
		var one [8]byte
		one[0] = 1
		_, _ = unix.Write(wakefd, one[:])
		<-done
		c.epfile.Close()
		unix.Close(wakefd)
	}
	for _, p := range pending {
		c.finish(p, Result{Reason: "connect: cancelled", Latency: time.Since(p.started)}, false)
	}
}

func sockaddr(a netip.AddrPort) unix.Sockaddr {
	if a.Addr().Is4() {
		return &unix.SockaddrInet4{Port: int(a.Port()), Addr: a.Addr().As4()}
	}
	sa := &unix.SockaddrInet6{Port: int(a.Port()), Addr: a.Addr().As16()}
	if z := a.Addr().Zone(); z != "" {
		if ifi, err := interfaceIndex(z); err == nil {
			sa.ZoneId = uint32(ifi)
		}
	}
	return sa
}
