package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/lvsd/lvsd/director"
	"github.com/lvsd/lvsd/ipvs"
	"github.com/lvsd/lvsd/test/nstest"
)

// Helpers of the kernel tests: the daemon as a process (this test binary
// re-executed as lvsd, see TestMain), its JSON log, its systemd
// notifications, real servers in namespaces, and the kernel table.

// logLine is one JSON log line of the daemon.
type logLine map[string]any

func (l logLine) msg() string { s, _ := l["msg"].(string); return s }

func (l logLine) num(k string) float64 { f, _ := l[k].(float64); return f }

func (l logLine) str(k string) string { return fmt.Sprint(l[k]) }

// lvsdProc is one run of the daemon.
type lvsdProc struct {
	t      *testing.T
	cmd    *exec.Cmd
	socket string // the control socket
	mu     sync.Mutex
	lines  []logLine
	raw    []string
	notes  []string
	wake   chan struct{}
	exited chan struct{}
	err    error
}

// startLVSD runs `lvsd run` with args, its log in JSON, notifying on a
// socket of its own, and waits until it is ready.
func startLVSD(t *testing.T, args ...string) *lvsdProc {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "notify.sock")
	nc, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	p := &lvsdProc{t: t, wake: make(chan struct{}), exited: make(chan struct{})}
	if !slices.Contains(args, "--socket") {
		// Each daemon its own control socket, so that tests never meet
		// on /run/lvsd/lvsd.sock.
		args = append(args, "--socket", filepath.Join(shortTempDir(t), "lvsd.sock"))
	}
	p.socket = args[slices.Index(args, "--socket")+1]
	p.cmd = exec.Command(os.Args[0], append([]string{"run", "--log-format", "json"}, args...)...)
	p.cmd.Env = append(os.Environ(), mainEnv+"=1", "NOTIFY_SOCKET="+sock)
	stderr, err := p.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	readers := make(chan struct{}, 2)
	go func() {
		defer func() { readers <- struct{}{} }()
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			var l logLine
			raw := sc.Text()
			if json.Unmarshal([]byte(raw), &l) != nil {
				l = logLine{"msg": raw}
			}
			p.add(func() { p.lines = append(p.lines, l); p.raw = append(p.raw, raw) })
		}
	}()
	go func() {
		defer func() { readers <- struct{}{} }()
		buf := make([]byte, 4096)
		for {
			n, err := nc.Read(buf)
			if err != nil {
				return
			}
			msg := string(buf[:n])
			p.add(func() { p.notes = append(p.notes, msg) })
		}
	}()
	go func() {
		<-readers // the log ends when the process does
		p.err = p.cmd.Wait()
		nc.Close()
		<-readers
		close(p.exited)
	}()
	t.Cleanup(func() {
		p.cmd.Process.Kill()
		select {
		case <-p.exited:
		case <-time.After(10 * time.Second):
			t.Error("lvsd did not exit after SIGKILL")
		}
		if t.Failed() {
			p.mu.Lock()
			t.Logf("lvsd log:\n%s", strings.Join(p.raw, "\n"))
			p.mu.Unlock()
		}
	})
	p.waitLog(0, 60*time.Second, "IPVS table programmed; running")
	p.waitNote(0, 10*time.Second, "READY=1")
	return p
}

func (p *lvsdProc) add(f func()) {
	p.mu.Lock()
	f()
	close(p.wake)
	p.wake = make(chan struct{})
	p.mu.Unlock()
}

// mark is the position in the log; waits look at lines from a mark on.
func (p *lvsdProc) mark() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.lines)
}

func (p *lvsdProc) notesMark() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.notes)
}

// waitLog waits for a line with message msg after mark.
func (p *lvsdProc) waitLog(from int, within time.Duration, msg string) logLine {
	p.t.Helper()
	return p.waitLogOf(from, within, msg, "")
}

// waitLogOf waits for a line with message msg about real server rs ("":
// any) after mark.
func (p *lvsdProc) waitLogOf(from int, within time.Duration, msg, rs string) logLine {
	p.t.Helper()
	deadline := time.After(within)
	for {
		p.mu.Lock()
		for _, l := range p.lines[from:] {
			if l.msg() == msg && (rs == "" || l.str("rs") == rs) {
				p.mu.Unlock()
				return l
			}
		}
		wake := p.wake
		p.mu.Unlock()
		select {
		case <-wake:
		case <-p.exited:
			p.t.Fatalf("lvsd exited (%v) before logging %q", p.err, msg)
		case <-deadline:
			p.t.Fatalf("lvsd did not log %q within %v", msg, within)
		}
	}
}

// logged returns the lines with message msg after mark.
func (p *lvsdProc) logged(from int, msg string) []logLine {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []logLine
	for _, l := range p.lines[from:] {
		if l.msg() == msg {
			out = append(out, l)
		}
	}
	return out
}

// waitNote waits for a systemd notification containing line after mark.
func (p *lvsdProc) waitNote(from int, within time.Duration, line string) {
	p.t.Helper()
	deadline := time.After(within)
	for {
		p.mu.Lock()
		for _, n := range p.notes[from:] {
			if slices.Contains(strings.Split(n, "\n"), line) {
				p.mu.Unlock()
				return
			}
		}
		wake := p.wake
		p.mu.Unlock()
		select {
		case <-wake:
		case <-deadline:
			p.t.Fatalf("lvsd did not notify %q within %v (got %q)", line, within, p.notes)
		}
	}
}

func (p *lvsdProc) signal(s syscall.Signal) {
	p.t.Helper()
	if err := p.cmd.Process.Signal(s); err != nil {
		p.t.Fatalf("signal %v: %v", s, err)
	}
}

// wait waits for the process to exit and returns its error.
func (p *lvsdProc) wait(within time.Duration) error {
	p.t.Helper()
	select {
	case <-p.exited:
		return p.err
	case <-time.After(within):
		p.t.Fatalf("lvsd did not exit within %v", within)
		return nil
	}
}

// kernelTable dumps the IPVS table of a namespace.
func kernelTable(t *testing.T, ns *nstest.NS) ipvs.Table {
	t.Helper()
	k, err := ipvs.New(ns.Path())
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	tbl, err := k.Dump(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return tbl
}

// waitTable polls the kernel table until cond holds.
func waitTable(t *testing.T, ns *nstest.NS, within time.Duration, what string, cond func(ipvs.Table) bool) ipvs.Table {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		tbl := kernelTable(t, ns)
		if cond(tbl) {
			return tbl
		}
		if time.Now().After(deadline) {
			t.Fatalf("kernel table: %s not within %v:\n%s", what, within, tbl)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// desiredTable is what a healthy configuration programs.
func desiredTable(t *testing.T, path string) ipvs.Table {
	t.Helper()
	cfg, diags := director.LoadConfig(path, nil)
	if diags.HasErrors() {
		t.Fatalf("%s: %s", path, director.FormatDiagnostics(diags, nil))
	}
	return director.Desired(cfg, director.Inputs{})
}

// realServer is an HTTP server inside a namespace, on some ports, that a
// test can kill (listeners and connections closed) and start again. Every
// response names the server; /app/status answers as the NAT example's
// Tomcat check expects.
type realServer struct {
	t     *testing.T
	name  string
	ns    *nstest.NS
	addrs []string
	mu    sync.Mutex
	srv   *http.Server
	lns   []net.Listener
	conns map[net.Conn]bool
	wg    sync.WaitGroup
}

func newRealServer(t *testing.T, name string, ns *nstest.NS, addrs ...string) *realServer {
	t.Helper()
	s := &realServer{t: t, name: name, ns: ns, addrs: addrs}
	s.start()
	t.Cleanup(s.kill)
	return s
}

func (s *realServer) start() {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.srv != nil {
		return
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/app/status", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintf(w, `{"status": "UP", "server": %q}`, s.name)
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, s.name) })
	s.conns = map[net.Conn]bool{}
	srv := &http.Server{Handler: mux, ConnState: func(c net.Conn, st http.ConnState) {
		s.mu.Lock()
		defer s.mu.Unlock()
		switch st {
		case http.StateNew:
			s.conns[c] = true
		case http.StateClosed, http.StateHijacked:
			delete(s.conns, c)
		}
	}}
	s.lns = nil
	for _, a := range s.addrs {
		var ln net.Listener
		if err := s.ns.Do(func() (err error) { ln, err = net.Listen("tcp4", a); return err }); err != nil {
			s.t.Fatalf("%s: listen %s: %v", s.name, a, err)
		}
		s.lns = append(s.lns, ln)
		s.wg.Add(1)
		go func() { defer s.wg.Done(); _ = srv.Serve(ln) }()
	}
	s.srv = srv
}

// kill stops the server as a crash would: no new connection is accepted
// (the kernel refuses them) and the established ones are closed.
func (s *realServer) kill() {
	s.mu.Lock()
	srv := s.srv
	s.srv = nil
	var conns []net.Conn
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	if srv == nil {
		return
	}
	srv.Close()
	for _, c := range conns {
		c.Close()
	}
	s.wg.Wait()
}

// dialer dials from inside a namespace.
func dialIn(ns *nstest.NS, addr string, timeout time.Duration) (net.Conn, error) {
	var c net.Conn
	err := ns.Do(func() (err error) {
		c, err = net.DialTimeout("tcp4", addr, timeout)
		return err
	})
	return c, err
}

// get makes one HTTP request on a new connection from ns and returns the
// body's first line (the server's name).
func get(ns *nstest.NS, addr string) (string, error) {
	c, err := dialIn(ns, addr, 3*time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(3 * time.Second))
	return request(c, bufio.NewReader(c), "/", false)
}

// request sends one GET on c and reads the response's first line.
func request(c net.Conn, br *bufio.Reader, path string, keepAlive bool) (string, error) {
	conn := "close"
	if keepAlive {
		conn = "keep-alive"
	}
	if _, err := fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: test\r\nConnection: %s\r\n\r\n", path, conn); err != nil {
		return "", err
	}
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(strings.SplitN(string(b), "\n", 2)[0]), nil
}

// longConn is a client's long-lived connection through the VIP: one TCP
// connection on which a request goes every interval until stop. Any
// error, or a change of server, is a broken connection.
type longConn struct {
	stopc  chan struct{}
	done   chan struct{}
	mu     sync.Mutex
	server string
	n      int
	err    error
}

func startLongConn(t *testing.T, ns *nstest.NS, addr string, every time.Duration) *longConn {
	t.Helper()
	c, err := dialIn(ns, addr, 3*time.Second)
	if err != nil {
		t.Fatalf("long-lived connection to %s: %v", addr, err)
	}
	l := &longConn{stopc: make(chan struct{}), done: make(chan struct{})}
	br := bufio.NewReader(c)
	go func() {
		defer close(l.done)
		defer c.Close()
		tick := time.NewTicker(every)
		defer tick.Stop()
		for {
			c.SetDeadline(time.Now().Add(5 * time.Second))
			name, err := request(c, br, "/", true)
			l.mu.Lock()
			switch {
			case err != nil:
				l.err = fmt.Errorf("request %d: %w", l.n+1, err)
			case l.server == "":
				l.server = name
			case name != l.server:
				l.err = fmt.Errorf("request %d answered by %s, not %s", l.n+1, name, l.server)
			}
			l.n++
			failed := l.err != nil
			l.mu.Unlock()
			if failed {
				return
			}
			select {
			case <-l.stopc:
				return
			case <-tick.C:
			}
		}
	}()
	t.Cleanup(l.stop)
	return l
}

func (l *longConn) stop() {
	select {
	case <-l.stopc:
	default:
		close(l.stopc)
	}
	<-l.done
}

// check reports the connection's state: requests so far and its error.
func (l *longConn) check() (int, string, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.n, l.server, l.err
}

// natTopology builds: a client namespace on clientNet with the director
// (which holds the VIP there), and the director as the gateway of each
// real server subnet; real servers in namespaces of their own.
type natTopology struct {
	client, director *nstest.NS
	rs               map[string]*nstest.NS // by address
}

// newNAT makes the topology: clientNet "203.0.113.0/24" puts the client at
// .2, the director at .1 and vip on the director; each subnet
// ("10.0.1.0/24") gets a bridge on the director at .1 and one namespace per
// real server address in it.
func newNAT(t *testing.T, clientNet, vip string, subnets map[string][]string) *natTopology {
	t.Helper()
	n := &natTopology{rs: map[string]*nstest.NS{}}
	n.client = nstest.New(t, "cli")
	n.director = nstest.New(t, "dir")
	p := netip.MustParsePrefix(clientNet)
	nstest.Veth(t, n.client, "eth0", n.director, "c0")
	n.client.Addr(t, "eth0", hostIn(p, 2))
	n.director.Addr(t, "c0", hostIn(p, 1))
	n.director.Addr(t, "c0", vip+"/32")
	n.director.Sysctl(t, "net.ipv4.ip_forward", "1")
	br := 0
	for _, subnet := range slices.Sorted(mapKeys(subnets)) {
		sp := netip.MustParsePrefix(subnet)
		var ports []string
		for i, a := range subnets[subnet] {
			ns := nstest.New(t, "rs")
			port := fmt.Sprintf("r%d_%d", br, i)
			nstest.Veth(t, n.director, port, ns, "eth0")
			ports = append(ports, port)
			ns.Addr(t, "eth0", fmt.Sprintf("%s/%d", a, sp.Bits()))
			ns.Route(t, "default", sp.Addr().Next().String(), "")
			n.rs[a] = ns
		}
		dev := fmt.Sprintf("br%d", br)
		n.director.Bridge(t, dev, ports...)
		n.director.Addr(t, dev, hostIn(sp, 1))
		br++
	}
	return n
}

func hostIn(p netip.Prefix, n int) string {
	a := p.Masked().Addr()
	for range n {
		a = a.Next()
	}
	return fmt.Sprintf("%s/%d", a, p.Bits())
}

func mapKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// ipvsadm runs ipvsadm in ns.
func ipvsadm(t *testing.T, ns *nstest.NS, args ...string) string {
	t.Helper()
	out, err := ns.Output(context.Background(), "ipvsadm", args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// writeFile writes a configuration file.
func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

var ap = netip.MustParseAddrPort
