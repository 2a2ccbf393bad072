package nstest

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"
)

// TestTwoNamespacesTalk builds a bridge topology like the VRRP and checker
// tests use and proves traffic crosses it, code runs inside a namespace, and
// commands started in a namespace see its interfaces.
func TestTwoNamespacesTalk(t *testing.T) {
	sw := New(t, "sw")
	a := New(t, "a")
	b := New(t, "b")
	Veth(t, a, "eth0", sw, "a0")
	Veth(t, b, "eth0", sw, "b0")
	sw.Bridge(t, "br0", "a0", "b0")
	a.Addr(t, "eth0", "10.99.0.1/24")
	b.Addr(t, "eth0", "10.99.0.2/24")
	a.Sysctl(t, "net.ipv4.ip_forward", "1")

	var ln net.Listener
	if err := b.Do(func() (err error) {
		ln, err = net.Listen("tcp", "10.99.0.2:0")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err == nil {
			c.Write([]byte("hi"))
			c.Close()
		}
	}()
	var got string
	if err := a.Do(func() error {
		c, err := net.DialTimeout("tcp", ln.Addr().String(), 3*time.Second)
		if err != nil {
			return err
		}
		defer c.Close()
		buf := make([]byte, 2)
		_, err = c.Read(buf)
		got = string(buf)
		return err
	}); err != nil {
		t.Fatalf("dial across the bridge: %v", err)
	}
	if got != "hi" {
		t.Fatalf("read %q, want hi", got)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	out, err := a.Output(ctx, "cat", "/proc/sys/net/ipv4/ip_forward")
	if err != nil {
		t.Fatal(err)
	}
	if strings.TrimSpace(out) != "1" {
		t.Fatalf("ip_forward in %s = %q, want 1 (command did not run in the namespace)", a.Name, out)
	}
	addrs, err := b.Addrs("eth0")
	if err != nil || len(addrs) == 0 || addrs[0].String() != "10.99.0.2/24" {
		t.Fatalf("addrs of b/eth0 = %v, %v", addrs, err)
	}
}
