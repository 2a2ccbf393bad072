package checkers

// Real servers for the tests, on loopback or inside namespaces: they
// refuse, accept and never answer, answer slowly, answer wrongly, reset
// mid-response. No stand-ins for the network.

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/net/dns/dnsmessage"
)

// tcpServer accepts connections and hands each to serve. Close stops it
// and closes every connection it accepted.
type tcpServer struct {
	ln       net.Listener
	accepted atomic.Int64
	wg       sync.WaitGroup
	mu       sync.Mutex
	conns    map[net.Conn]bool
	closed   bool
}

func startTCP(t testing.TB, addr string, serve func(net.Conn)) *tcpServer {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("listen %s: %v", addr, err)
	}
	return serveTCP(t, ln, serve)
}

func serveTCP(t testing.TB, ln net.Listener, serve func(net.Conn)) *tcpServer {
	s := &tcpServer{ln: ln, conns: map[net.Conn]bool{}}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.accepted.Add(1)
			s.mu.Lock()
			if s.closed {
				s.mu.Unlock()
				c.Close()
				return
			}
			s.conns[c] = true
			s.mu.Unlock()
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				if serve != nil {
					serve(c)
				}
				c.Close()
				s.mu.Lock()
				delete(s.conns, c)
				s.mu.Unlock()
			}()
		}
	}()
	t.Cleanup(s.Close)
	return s
}

func (s *tcpServer) Addr() netip.AddrPort { return netip.MustParseAddrPort(s.ln.Addr().String()) }

func (s *tcpServer) Close() {
	s.mu.Lock()
	s.closed = true
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.ln.Close()
	s.wg.Wait()
}

// hold keeps a connection open without a word until the peer leaves.
func hold(c net.Conn) {
	_, _ = io.Copy(io.Discard, c)
}

// resetMidResponse sends headers promising 1000 bytes, 10 of them, then a
// TCP RST.
func resetMidResponse(c net.Conn) {
	readRequest(c)
	_, _ = c.Write([]byte("HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n0123456789"))
	time.Sleep(20 * time.Millisecond)
	_ = c.(*net.TCPConn).SetLinger(0)
}

// readRequest reads until the end of an HTTP request head.
func readRequest(c net.Conn) {
	buf := make([]byte, 0, 1024)
	tmp := make([]byte, 1024)
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	for len(buf) < 64<<10 {
		n, err := c.Read(tmp)
		buf = append(buf, tmp[:n]...)
		if err != nil || containsHeadEnd(buf) {
			return
		}
	}
}

func containsHeadEnd(b []byte) bool {
	for i := 0; i+3 < len(b); i++ {
		if b[i] == '\r' && b[i+1] == '\n' && b[i+2] == '\r' && b[i+3] == '\n' {
			return true
		}
	}
	return false
}

// freePort returns a loopback address whose port nothing listens on.
func freePort(t testing.TB) netip.AddrPort {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	a := netip.MustParseAddrPort(ln.Addr().String())
	ln.Close()
	return a
}

// selfSigned makes a certificate for names (DNS names or IPs) and writes
// it and its key as PEM into dir.
func selfSigned(t testing.TB, dir, cn string, names ...string) (tls.Certificate, string, string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               pkix.Name{CommonName: cn},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	for _, n := range names {
		if ip := net.ParseIP(n); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, n)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})
	certFile := filepath.Join(dir, cn+".crt")
	keyFile := filepath.Join(dir, cn+".key")
	if err := os.WriteFile(certFile, certPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	return pair, certFile, keyFile
}

// dnsServer answers queries over UDP on loopback. rcode and the answer
// addresses can change while it runs; silent makes it drop queries.
type dnsServer struct {
	pc      net.PacketConn
	rcode   atomic.Int32
	silent  atomic.Bool
	badID   atomic.Bool // first send a reply with the wrong ID
	queries atomic.Int64
	addrs   []netip.Addr
	done    chan struct{}
}

func startDNS(t testing.TB, addrs ...netip.Addr) *dnsServer {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &dnsServer{pc: pc, addrs: addrs, done: make(chan struct{})}
	go s.serve()
	t.Cleanup(func() { pc.Close(); <-s.done })
	return s
}

func (s *dnsServer) Addr() netip.AddrPort { return netip.MustParseAddrPort(s.pc.LocalAddr().String()) }

func (s *dnsServer) serve() {
	defer close(s.done)
	buf := make([]byte, 1500)
	for {
		n, from, err := s.pc.ReadFrom(buf)
		if err != nil {
			return
		}
		s.queries.Add(1)
		if s.silent.Load() {
			continue
		}
		var p dnsmessage.Parser
		h, err := p.Start(buf[:n])
		if err != nil {
			continue
		}
		q, err := p.Question()
		if err != nil {
			continue
		}
		if s.badID.Load() {
			s.pc.WriteTo(s.reply(h.ID+1, q), from)
		}
		s.pc.WriteTo(s.reply(h.ID, q), from)
	}
}

func (s *dnsServer) reply(id uint16, q dnsmessage.Question) []byte {
	rc := dnsmessage.RCode(s.rcode.Load())
	b := dnsmessage.NewBuilder(nil, dnsmessage.Header{ID: id, Response: true, Authoritative: true, RCode: rc})
	b.StartQuestions()
	b.Question(q)
	b.StartAnswers()
	if rc == dnsmessage.RCodeSuccess {
		for _, a := range s.addrs {
			hdr := dnsmessage.ResourceHeader{Name: q.Name, Class: dnsmessage.ClassINET, TTL: 60}
			if a.Is4() && q.Type == dnsmessage.TypeA {
				b.AResource(hdr, dnsmessage.AResource{A: a.As4()})
			}
			if a.Is6() && q.Type == dnsmessage.TypeAAAA {
				b.AAAAResource(hdr, dnsmessage.AAAAResource{AAAA: a.As16()})
			}
		}
	}
	msg, _ := b.Finish()
	return msg
}

// udpServer echoes datagrams with a prefix, or stays silent.
type udpServer struct {
	pc     net.PacketConn
	silent atomic.Bool
	got    atomic.Int64
	done   chan struct{}
}

func startUDP(t testing.TB, addr string) *udpServer {
	t.Helper()
	pc, err := net.ListenPacket("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	s := &udpServer{pc: pc, done: make(chan struct{})}
	go func() {
		defer close(s.done)
		buf := make([]byte, 65536)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			s.got.Add(1)
			if !s.silent.Load() {
				pc.WriteTo(append([]byte("echo:"), buf[:n]...), from)
			}
		}
	}()
	t.Cleanup(s.Close)
	return s
}

func (s *udpServer) Addr() netip.AddrPort { return netip.MustParseAddrPort(s.pc.LocalAddr().String()) }

func (s *udpServer) Close() {
	s.pc.Close()
	<-s.done
}

// mustCheck builds def (env may be nil but for icmp) and runs it once.
func mustCheck(t testing.TB, def Definition, env *Env) Result {
	t.Helper()
	c, err := Build(def, env)
	if err != nil {
		t.Fatalf("build: %v", err)
	}
	return c.Check(context.Background())
}

func mustAddr(s string) netip.Addr { return netip.MustParseAddr(s) }

// httpHandler answers every request with the status in status.
func httpHandler(status *atomic.Int32) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(int(status.Load()))
		w.Write([]byte(page))
	})
}

func tlsConfig(c tls.Certificate) *tls.Config {
	return &tls.Config{Certificates: []tls.Certificate{c}}
}

func touch(t testing.TB, path string) { writeFile(t, path, "") }

func writeFile(t testing.TB, path, s string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

func removeFile(t testing.TB, path string) {
	t.Helper()
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
}
