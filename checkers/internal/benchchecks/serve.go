package main

import (
	"bytes"
	"net"
	"net/netip"
	"time"
)

// serverLn is one server of the child process.
type serverLn struct {
	fd net.Listener
}

func listenFD(a netip.AddrPort) (net.Listener, error) {
	return net.Listen("tcp", a.String())
}

var httpReply = []byte("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 3\r\nConnection: close\r\n\r\nok\n")

func (s *serverLn) serve(kind string) {
	for {
		c, err := s.fd.Accept()
		if err != nil {
			return
		}
		if kind != "http" {
			// A TCP check only connects; the checker resets the
			// connection itself.
			c.Close()
			continue
		}
		go func() {
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(10 * time.Second))
			buf := make([]byte, 2048)
			n := 0
			for n < len(buf) {
				m, err := c.Read(buf[n:])
				n += m
				if bytes.Contains(buf[:n], []byte("\r\n\r\n")) {
					_, _ = c.Write(httpReply)
					return
				}
				if err != nil {
					return
				}
			}
		}()
	}
}

func (s *serverLn) close() { s.fd.Close() }
