package checkers

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"strconv"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// newDialer returns a dialer for network ("tcp" or "udp") that honours the
// source address and interface of s. Keep-alive probes are off: check
// connections live for one check.
func newDialer(network string, s Settings) *net.Dialer {
	d := &net.Dialer{KeepAlive: -1}
	if s.Source.IsValid() {
		ip := s.Source.AsSlice()
		if network == "udp" {
			d.LocalAddr = &net.UDPAddr{IP: ip}
		} else {
			d.LocalAddr = &net.TCPAddr{IP: ip}
		}
	}
	if s.Interface != "" {
		d.Control = bindToDevice(s.Interface)
	}
	return d
}

func bindToDevice(dev string) func(network, address string, c syscall.RawConn) error {
	return func(network, address string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) {
			serr = unix.BindToDevice(int(fd), dev)
		})
		if err != nil {
			return err
		}
		if serr != nil {
			return &bindError{dev: dev, err: serr}
		}
		return nil
	}
}

type bindError struct {
	dev string
	err error
}

func (e *bindError) Error() string { return "bind to interface " + e.dev + ": " + e.err.Error() }
func (e *bindError) Unwrap() error { return e.err }

// withTimeout applies the check's own timeout.
func withTimeout(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	if d <= 0 {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, d)
}

// reason turns err from phase ("connect", "send", "read") into a short log
// text: "connect: connection refused", "read: timeout after 1s",
// "read: connection reset by peer". ctx tells a timeout from a
// cancellation.
func reason(ctx context.Context, phase string, err error, timeout time.Duration) string {
	return phase + ": " + errText(ctx, err, timeout)
}

func errText(ctx context.Context, err error, timeout time.Duration) string {
	if errors.Is(err, context.Canceled) || ctx.Err() == context.Canceled {
		return "cancelled"
	}
	if isTimeout(ctx, err) {
		return "timeout after " + fmtDuration(timeout)
	}
	var be *bindError
	if errors.As(err, &be) {
		return be.Error()
	}
	var errno syscall.Errno
	if errors.As(err, &errno) {
		return errno.Error()
	}
	if errors.Is(err, io.EOF) {
		return "connection closed by peer"
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return "connection closed early"
	}
	var op *net.OpError
	if errors.As(err, &op) && op.Err != nil {
		return op.Err.Error()
	}
	return err.Error()
}

func isTimeout(ctx context.Context, err error) bool {
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded) {
		return true
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return true
	}
	return ctx.Err() == context.DeadlineExceeded
}

// fmtDuration prints round durations the way people write them: 1s, 250ms.
func fmtDuration(d time.Duration) string {
	switch {
	case d >= time.Second && d%(100*time.Millisecond) == 0:
		return d.String()
	case d >= time.Millisecond && d%time.Millisecond == 0:
		return d.String()
	}
	return d.Round(time.Microsecond).String()
}

// interruptOnDone sets conn's deadline from ctx and makes a cancellation
// of ctx interrupt blocked reads and writes at once. Call the returned
// function when done with conn.
func interruptOnDone(ctx context.Context, conn net.Conn) (stop func() bool) {
	_ = conn.SetDeadline(deadlineOf(ctx))
	return context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
}

// deadlineOf returns ctx's deadline, or none.
func deadlineOf(ctx context.Context) time.Time {
	t, _ := ctx.Deadline()
	return t
}

// quote shortens b for a log line.
func quote(b []byte, max int) string {
	if len(b) > max {
		return fmt.Sprintf("%q...", b[:max])
	}
	return fmt.Sprintf("%q", b)
}

// interfaceIndex resolves an IPv6 zone: an interface name or number.
func interfaceIndex(zone string) (int, error) {
	if n, err := strconv.Atoi(zone); err == nil {
		return n, nil
	}
	ifi, err := net.InterfaceByName(zone)
	if err != nil {
		return 0, err
	}
	return ifi.Index, nil
}

// addrFrom converts a net.Addr from the standard library to netip.
func addrFrom(a net.Addr) netip.Addr {
	switch a := a.(type) {
	case *net.IPAddr:
		ip, _ := netip.AddrFromSlice(a.IP)
		return ip.Unmap()
	case *net.UDPAddr:
		return a.AddrPort().Addr().Unmap()
	case *net.TCPAddr:
		return a.AddrPort().Addr().Unmap()
	}
	return netip.Addr{}
}
