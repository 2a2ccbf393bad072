package checkers

import (
	"bufio"
	"errors"
	"io"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"
)

func tcpDef(s *tcpServer, timeout time.Duration, spec TCPSpec) Definition {
	return Definition{Target: s.Addr(), Settings: Settings{Timeout: timeout}, Spec: spec}
}

func TestTCPCheck(t *testing.T) {
	accepting := startTCP(t, "127.0.0.1:0", hold)
	banner := startTCP(t, "127.0.0.1:0", func(c net.Conn) {
		c.Write([]byte("SSH-2.0-OpenSSH_9.2\r\n"))
		hold(c)
	})
	pong := startTCP(t, "127.0.0.1:0", func(c net.Conn) {
		line, _ := bufio.NewReader(c).ReadString('\n')
		if line == "PING\r\n" {
			c.Write([]byte("+PONG\r\n"))
		} else {
			c.Write([]byte("-ERR unknown\r\n"))
		}
		hold(c)
	})
	slow := startTCP(t, "127.0.0.1:0", func(c net.Conn) {
		time.Sleep(300 * time.Millisecond)
		c.Write([]byte("220 ready\r\n"))
		hold(c)
	})
	closer := startTCP(t, "127.0.0.1:0", func(c net.Conn) { c.Write([]byte("bye")) })
	refused := freePort(t)

	tests := []struct {
		name       string
		def        Definition
		ok         bool
		reason     string
		maxLatency time.Duration
	}{
		{"accepting", tcpDef(accepting, time.Second, TCPSpec{}), true, "connected", 0},
		{"refused", Definition{Target: refused, Settings: Settings{Timeout: time.Second}, Spec: TCPSpec{}}, false, "connect: connection refused", 500 * time.Millisecond},
		{"accepts and never answers", tcpDef(accepting, 200*time.Millisecond, TCPSpec{Expect: "."}), false, "read: timeout after 200ms", 0},
		{"banner matches", tcpDef(banner, time.Second, TCPSpec{Expect: "^SSH-2\\.0-"}), true, "reply matched", 0},
		{"wrong banner", tcpDef(banner, 300*time.Millisecond, TCPSpec{Expect: "^220 "}), false, `reply "SSH-2.0-OpenSSH_9.2\r\n" does not match "^220 " (timeout after 300ms)`, 0},
		{"send and expect", tcpDef(pong, time.Second, TCPSpec{Send: "PING\r\n", Expect: "^\\+PONG"}), true, "reply matched", 0},
		{"send and wrong reply", tcpDef(pong, 300*time.Millisecond, TCPSpec{Send: "PONG\r\n", Expect: "^\\+PONG"}), false, `reply "-ERR unknown\r\n" does not match "^\\+PONG" (timeout after 300ms)`, 0},
		{"slow answer within timeout", tcpDef(slow, 2*time.Second, TCPSpec{Expect: "^220"}), true, "reply matched", 0},
		{"slow answer past timeout", tcpDef(slow, 100*time.Millisecond, TCPSpec{Expect: "^220"}), false, "read: timeout after 100ms", 0},
		{"closes before matching", tcpDef(closer, time.Second, TCPSpec{Expect: "^hello"}), false, `reply "bye" does not match "^hello" (connection closed by peer)`, 0},
		{"max reply caps the read", tcpDef(banner, time.Second, TCPSpec{Expect: "OpenSSH", MaxReply: 4}), false, `reply "SSH-" does not match "OpenSSH" in 4 bytes`, 0},
	}
	// Plain connects run on the Env's epoll loop when there is one, and
	// through net.Dialer when there is not: both must agree.
	env := NewEnv(nil)
	defer env.Close()
	for _, tt := range tests {
		for _, e := range []*Env{nil, env} {
			name := tt.name
			if e != nil {
				if tt.def.Spec.(TCPSpec).Expect != "" {
					continue
				}
				name += " (epoll)"
			}
			t.Run(name, func(t *testing.T) {
				r := mustCheck(t, tt.def, e)
				if r.OK != tt.ok || r.Reason != tt.reason {
					t.Fatalf("result %+v, want ok=%v reason %q", r, tt.ok, tt.reason)
				}
				if tt.maxLatency > 0 && r.Latency > tt.maxLatency {
					t.Fatalf("took %v, want under %v", r.Latency, tt.maxLatency)
				}
			})
		}
	}
}

// By default a check ends its connection with a reset, so the director
// keeps no TIME_WAIT socket per check; GracefulClose sends a FIN.
func TestTCPCheckCloses(t *testing.T) {
	env := NewEnv(nil)
	defer env.Close()
	for i, graceful := range []bool{false, true, false, true} {
		e := env
		if i < 2 {
			e = nil
		}
		got := make(chan error, 1)
		srv := startTCP(t, "127.0.0.1:0", func(c net.Conn) {
			_, err := c.Read(make([]byte, 1))
			got <- err
		})
		r := mustCheck(t, tcpDef(srv, time.Second, TCPSpec{GracefulClose: graceful}), e)
		if !r.OK {
			t.Fatalf("graceful=%v: %v", graceful, r)
		}
		var err error
		select {
		case err = <-got:
		case <-time.After(5 * time.Second):
			t.Fatal("server saw no close")
		}
		if graceful && err != io.EOF {
			t.Errorf("graceful close: server read %v, want EOF", err)
		}
		if !graceful && !errors.Is(err, syscall.ECONNRESET) {
			t.Errorf("default close: server read %v, want connection reset", err)
		}
	}
}

func TestTCPCheckSourceAddress(t *testing.T) {
	env := NewEnv(nil)
	defer env.Close()
	from := make(chan string, 1)
	srv := startTCP(t, "127.0.0.1:0", func(c net.Conn) {
		from <- c.RemoteAddr().String()
	})
	for _, e := range []*Env{nil, env} {
		def := tcpDef(srv, time.Second, TCPSpec{})
		def.Settings.Source = mustAddr("127.0.0.77")
		if r := mustCheck(t, def, e); !r.OK {
			t.Fatal(r)
		}
		if got := <-from; !strings.HasPrefix(got, "127.0.0.77:") {
			t.Fatalf("connection came from %s, want 127.0.0.77", got)
		}
		// Binding to an interface that does not exist fails the check.
		def.Settings.Source = mustAddr("127.0.0.1")
		def.Settings.Interface = "nosuchif0"
		if r := mustCheck(t, def, e); r.OK || r.Reason != "connect: bind to interface nosuchif0: no such device" {
			t.Fatalf("bind to a missing interface: %v", r)
		}
	}
}
