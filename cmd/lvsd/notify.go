package main

import (
	"fmt"
	"net"
	"os"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// notifier speaks systemd's notify protocol (sd_notify(3)): one datagram
// of KEY=value lines to the unix socket named by $NOTIFY_SOCKET. It is a
// few lines, so lvsd writes them rather than depend on go-systemd. A nil
// notifier (no socket: not run by systemd with Type=notify) does nothing.
type notifier struct {
	addr *net.UnixAddr
}

// newNotifier reads $NOTIFY_SOCKET and unsets it, so that hooks and exec
// checks do not inherit it.
func newNotifier() *notifier {
	path := os.Getenv("NOTIFY_SOCKET")
	os.Unsetenv("NOTIFY_SOCKET")
	if path == "" {
		return nil
	}
	// "@name" is an abstract socket; Go's net package spells it the same.
	return &notifier{addr: &net.UnixAddr{Name: path, Net: "unixgram"}}
}

// send sends state lines ("READY=1", "STATUS=...").
func (n *notifier) send(lines ...string) error {
	if n == nil {
		return nil
	}
	c, err := net.DialUnix("unixgram", nil, n.addr)
	if err != nil {
		return fmt.Errorf("systemd notify socket %s: %w", n.addr.Name, err)
	}
	defer c.Close()
	if _, err := c.Write([]byte(strings.Join(lines, "\n"))); err != nil {
		return fmt.Errorf("systemd notify socket %s: %w", n.addr.Name, err)
	}
	return nil
}

// monotonicUsec is CLOCK_MONOTONIC in microseconds, which systemd wants
// with RELOADING=1 (MONOTONIC_USEC=, for Type=notify-reload units).
func monotonicUsec() string {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		return "0"
	}
	return fmt.Sprint(time.Duration(ts.Nano()).Microseconds())
}
