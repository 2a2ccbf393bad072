package control

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"
	logtest "github.com/sirupsen/logrus/hooks/test"
	"go.uber.org/goleak"

	"github.com/lvsd/lvsd/director"
	"github.com/lvsd/lvsd/ipvs"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// daemon is a Director on an in-memory IPVS table behind the real API
// server on a real unix socket: everything lvsd run wires, but the kernel.
type daemon struct {
	t      *testing.T
	d      *director.Director
	mem    *ipvs.Memory
	srv    *Server
	client *Client
	logs   *logtest.Hook
	socket string

	mu   sync.Mutex
	src  string
	file string

	cancel context.CancelFunc
	done   chan struct{}
}

// shortDir is a temporary directory with a path short enough for a unix
// socket (108 bytes), removed after the test.
func shortDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "lvsd")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// backend listens on 127.0.0.host and accepts connections: a real server
// for real TCP checks.
func backend(t *testing.T, host byte) netip.AddrPort {
	t.Helper()
	ln, err := net.Listen("tcp4", fmt.Sprintf("127.0.0.%d:0", host))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	t.Cleanup(func() { ln.Close(); <-done })
	return netip.MustParseAddrPort(ln.Addr().String())
}

// testConfig has two virtual servers sharing one backend (so that its
// address alone is ambiguous) and a real server checked against a real
// listener.
func testConfig(a, b netip.AddrPort) string {
	return fmt.Sprintf(`
node_name = "lb1"

virtual_server "web" {
  address   = "192.0.2.10:80"
  scheduler = "wlc"
  forward   = "nat"
  check "tcp" {
    interval = "100ms"
    timeout  = "100ms"
    rise     = 1
    fall     = 1
  }
  real_server {
    name    = "web1"
    address = "%s"
    weight  = 100
  }
  real_server {
    name    = "web2"
    address = "%s"
    weight  = 50
  }
}

virtual_server "api" {
  address   = "192.0.2.10:8080"
  scheduler = "rr"
  forward   = "nat"
  real_server {
    name    = "api1"
    address = "%s"
    check "none" {}
  }
}
`, a, b, b)
}

type daemonOpts struct {
	listen   netip.AddrPort
	mode     os.FileMode
	stepDown func(context.Context, string, time.Duration) ([]string, error)
}

func startDaemon(t *testing.T, src string, o daemonOpts) *daemon {
	t.Helper()
	logger, logs := logtest.NewNullLogger()
	x := &daemon{t: t, mem: ipvs.NewMemory(ipvs.Table{}), logs: logs, done: make(chan struct{})}
	x.file = filepath.Join(t.TempDir(), "lvsd.hcl")
	x.setSource(src)
	cfg, diags := x.load()
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	ready := make(chan struct{})
	d, err := director.New(director.Options{
		Config: cfg, Backend: x.mem, Log: logger,
		Load:  x.load,
		Ready: func() { close(ready) },
	})
	if err != nil {
		t.Fatal(err)
	}
	x.d = d
	x.socket = filepath.Join(shortDir(t), "lvsd.sock")
	srv, err := Listen(Options{
		Director: d, Reload: d.Reload, StepDown: o.stepDown,
		Counters: NewCounters(x.mem.Dump, time.Nanosecond, nil),
		Socket:   x.socket, Mode: o.mode, Listen: o.listen,
		Meta: Meta{Version: "test", PID: 42}, Log: logger,
	})
	if err != nil {
		t.Fatal(err)
	}
	x.srv = srv
	ctx, cancel := context.WithCancel(context.Background())
	x.cancel = cancel
	runDone := make(chan error, 1)
	go func() { runDone <- d.Run(ctx) }()
	go func() {
		defer close(x.done)
		if err := srv.Serve(ctx); err != nil {
			t.Errorf("Serve: %v", err)
		}
		if err := <-runDone; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	t.Cleanup(x.stop)
	select {
	case <-ready:
	case <-time.After(10 * time.Second):
		t.Fatal("the director did not become ready")
	}
	x.client = NewClient(x.socket)
	t.Cleanup(x.client.Close)
	return x
}

func (x *daemon) stop() {
	if x.cancel == nil {
		return
	}
	x.cancel()
	x.cancel = nil
	select {
	case <-x.done:
	case <-time.After(10 * time.Second):
		x.t.Error("the API server did not stop")
	}
}

func (x *daemon) load() (*director.Config, hcl.Diagnostics) {
	x.mu.Lock()
	defer x.mu.Unlock()
	return director.LoadConfig(x.file, nil)
}

func (x *daemon) setSource(src string) {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.src = src
	if err := os.WriteFile(x.file, []byte(src), 0o644); err != nil {
		x.t.Fatal(err)
	}
}

// until polls cond every 10 ms for up to 10 s.
func until(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func findRS(st Status, id string) RealServer {
	for _, vs := range st.VirtualServers {
		for _, rs := range vs.RealServers {
			if rs.ID == id {
				return rs
			}
		}
	}
	return RealServer{}
}

func TestStatusOverTheSocket(t *testing.T) {
	a, b := backend(t, 1), backend(t, 2)
	x := startDaemon(t, testConfig(a, b), daemonOpts{})
	ctx := context.Background()

	// The kernel's counters, past 32 bits to show they are 64-bit.
	webKey := ipvs.AddrKey(ipvs.TCP, netip.MustParseAddrPort("192.0.2.10:80"))
	x.mem.Edit(func(tb *ipvs.Table) {
		d, ok := tb.Destination(webKey, a)
		if !ok {
			t.Fatal("web1 not in the table")
		}
		d.Stats = ipvs.Counters{ActiveConns: 7, InactiveConns: 3, Conns: 5_000_000_000, PacketsIn: 1 << 40, BytesIn: 1 << 50, BytesOut: 1 << 51, CPS: 12, BPSIn: 1000}
		tb.PutDestination(webKey, d)
		vs, _ := tb.Get(webKey)
		vs.Stats = ipvs.Counters{Conns: 6_000_000_000, BytesIn: 1 << 52}
		tb.Put(vs)
	})
	until(t, "a check result on web1", func() bool {
		st, err := x.client.Status(ctx)
		return err == nil && findRS(st, "web/web1").LastCheck != nil
	})
	st, err := x.client.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Node != "lb1" || st.PID != 42 || !st.Ready || st.Config.Hash != x.d.Status().ConfigHash || len(st.Config.Hash) != 64 {
		t.Fatalf("header: %+v", st)
	}
	if st.Kernel.CountersRead == nil || st.Kernel.Error != "" {
		t.Fatalf("kernel: %+v", st.Kernel)
	}
	if st.Sync.FullSyncs < 1 || st.Sync.Writes != 5 || st.Sync.OwnedServices != 2 {
		t.Fatalf("sync: %+v", st.Sync)
	}
	if len(st.VirtualServers) != 2 || st.VirtualServers[0].Name != "web" || !st.VirtualServers[0].Up || st.VirtualServers[0].WeightUp != 150 {
		t.Fatalf("virtual servers: %+v", st.VirtualServers)
	}
	svc := st.VirtualServers[0].Services[0]
	if svc.Key != "tcp 192.0.2.10:80" || !svc.InKernel || svc.Stats == nil || svc.Stats.Conns != 6_000_000_000 || svc.Stats.BytesIn != 1<<52 {
		t.Fatalf("service: %+v %+v", svc, svc.Stats)
	}
	web1 := findRS(st, "web/web1")
	if web1.State != "up" || web1.ConfiguredWeight != 100 || web1.EffectiveWeight != 100 || !web1.InTable || !web1.Checked || web1.Address != a.String() {
		t.Fatalf("web1: %+v", web1)
	}
	if lc := web1.LastCheck; !lc.OK || lc.LatencySeconds <= 0 || lc.LatencySeconds > 1 || lc.Time.IsZero() {
		t.Fatalf("web1's last check: %+v", lc)
	}
	if len(web1.Checks) != 1 || web1.Checks[0].Kind != "tcp" || web1.Checks[0].Runs == 0 {
		t.Fatalf("web1's checks: %+v", web1.Checks)
	}
	if len(web1.Kernel) != 1 || web1.Totals == nil {
		t.Fatalf("web1's kernel entries: %+v", web1.Kernel)
	}
	k := web1.Kernel[0].Stats
	if k.ActiveConns != 7 || k.InactiveConns != 3 || k.Conns != 5_000_000_000 || k.PacketsIn != 1<<40 || k.BytesOut != 1<<51 || k.CPS != 12 || k.BPSIn != 1000 {
		t.Fatalf("web1's counters: %+v", k)
	}
	if api1 := findRS(st, "api/api1"); api1.Checked || api1.State != "up" || api1.LastCheck != nil {
		t.Fatalf("api1 (no checks): %+v", api1)
	}
	if st.VRRP.Running || st.VRRP.Instances == nil {
		t.Fatalf("vrrp: %+v", st.VRRP)
	}

	// The narrower endpoints agree.
	var vs VirtualServer
	if err := x.client.Get(ctx, "/v1/virtual-servers/api", &vs); err != nil || vs.Name != "api" || len(vs.RealServers) != 1 {
		t.Fatalf("GET /v1/virtual-servers/api: %v %+v", err, vs)
	}
	var rs RealServer
	if err := x.client.Get(ctx, "/v1/real-servers/web/web2", &rs); err != nil || rs.ID != "web/web2" {
		t.Fatalf("GET /v1/real-servers/web/web2: %v %+v", err, rs)
	}
	if err := x.client.Get(ctx, "/v1/real-servers/"+a.String(), &rs); err != nil || rs.ID != "web/web1" {
		t.Fatalf("GET /v1/real-servers/%s: %v %+v", a, err, rs)
	}
	var apiErr *APIError
	if err := x.client.Get(ctx, "/v1/real-servers/"+b.Addr().String(), &rs); !errors.As(err, &apiErr) || apiErr.Status != http.StatusConflict || len(apiErr.Candidates) != 2 {
		t.Fatalf("ambiguous address: %v", err)
	}
	if err := x.client.Get(ctx, "/v1/virtual-servers/nope", &vs); !errors.As(err, &apiErr) || apiErr.Status != http.StatusNotFound {
		t.Fatalf("unknown virtual server: %v", err)
	}
	var health map[string]any
	if err := x.client.Get(ctx, "/v1/health", &health); err != nil || health["ready"] != true {
		t.Fatalf("health: %v %v", err, health)
	}
	if err := x.client.Get(ctx, "/v2/whatever", nil); !errors.As(err, &apiErr) || apiErr.Status != http.StatusNotFound {
		t.Fatalf("unknown endpoint: %v", err)
	}
}

func TestSocketMode(t *testing.T) {
	a, b := backend(t, 1), backend(t, 2)
	for _, mode := range []os.FileMode{0, 0o660} {
		x := startDaemon(t, testConfig(a, b), daemonOpts{mode: mode})
		fi, err := os.Stat(x.socket)
		if err != nil {
			t.Fatal(err)
		}
		want := mode
		if want == 0 {
			want = 0o600
		}
		if fi.Mode().Type() != os.ModeSocket || fi.Mode().Perm() != want {
			t.Fatalf("socket %s: mode %v, want socket %04o", x.socket, fi.Mode(), want)
		}
		// Nothing else is left in the directory (the temporary name).
		ents, _ := os.ReadDir(filepath.Dir(x.socket))
		if len(ents) != 1 {
			t.Fatalf("directory holds %d entries", len(ents))
		}
		x.stop()
		if _, err := os.Lstat(x.socket); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("socket left after stop: %v", err)
		}
	}
}

func TestStaleAndLiveSockets(t *testing.T) {
	dir := shortDir(t)
	d, err := director.New(director.Options{Config: &director.Config{}, Backend: ipvs.NewMemory(ipvs.Table{})})
	if err != nil {
		t.Fatal(err)
	}
	log, hook := logtest.NewNullLogger()

	// A socket left by a daemon that died: nothing answers; replaced.
	stale := filepath.Join(dir, "stale.sock")
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: stale, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	ln.SetUnlinkOnClose(false)
	ln.Close()
	srv, err := Listen(Options{Director: d, Socket: stale, Log: log})
	if err != nil {
		t.Fatalf("stale socket not replaced: %v", err)
	}
	if len(hook.Entries) == 0 || !strings.Contains(hook.LastEntry().Message, "stale control socket") {
		t.Fatal("replacing a stale socket was not logged")
	}

	// A live one: refused, and left alone.
	if _, err := Listen(Options{Director: d, Socket: stale, Log: log}); err == nil || !strings.Contains(err.Error(), "answers on "+stale) {
		t.Fatalf("a live socket was taken over: %v", err)
	}
	srv.closeUnix()

	// Not a socket: refused, and not removed.
	file := filepath.Join(dir, "file")
	os.WriteFile(file, []byte("x"), 0o644)
	if _, err := Listen(Options{Director: d, Socket: file, Log: log}); err == nil || !strings.Contains(err.Error(), "is not a socket") {
		t.Fatalf("a regular file: %v", err)
	}
	if _, err := os.Stat(file); err != nil {
		t.Fatal("the regular file was removed")
	}

	// A missing directory is created.
	deep := filepath.Join(dir, "run", "lvsd", "lvsd.sock")
	srv, err = Listen(Options{Director: d, Socket: deep, Log: log})
	if err != nil {
		t.Fatal(err)
	}
	srv.closeUnix()
}

func TestOverrides(t *testing.T) {
	a, b := backend(t, 1), backend(t, 2)
	x := startDaemon(t, testConfig(a, b), daemonOpts{})
	ctx := context.Background()
	webKey := ipvs.AddrKey(ipvs.TCP, netip.MustParseAddrPort("192.0.2.10:80"))
	weight := func(key ipvs.ServiceKey, ap netip.AddrPort) (uint32, bool) {
		d, ok := x.mem.Table().Destination(key, ap)
		return d.Weight, ok
	}

	// By address:port, unambiguous: drain is weight 0, kept.
	res, err := x.client.Override(ctx, OverrideRequest{RealServer: a.String(), Override: "drain"})
	if err != nil || len(res.Changed) != 1 || res.Changed[0] != (OverrideChange{RealServer: "web/web1", Was: "none", Now: "drain"}) {
		t.Fatalf("drain %s: %v %+v", a, err, res)
	}
	if w, ok := weight(webKey, a); !ok || w != 0 {
		t.Fatalf("drained web1 in the kernel: weight %d, present %v", w, ok)
	}
	st, _ := x.client.Status(ctx)
	if rs := findRS(st, "web/web1"); rs.State != "drain" || rs.Override != "drain" || rs.EffectiveWeight != 0 || !rs.InTable {
		t.Fatalf("drained web1: %+v", rs)
	}
	if len(st.Overrides) != 1 || st.Overrides[0].RealServer != "web/web1" || !st.Overrides[0].Configured {
		t.Fatalf("overrides: %+v", st.Overrides)
	}

	// The shared backend's address is ambiguous...
	var apiErr *APIError
	_, err = x.client.Override(ctx, OverrideRequest{RealServer: b.String(), Override: "disable"})
	if !errors.As(err, &apiErr) || apiErr.Status != http.StatusConflict || strings.Join(apiErr.Candidates, ",") != "web/web2,api/api1" {
		t.Fatalf("ambiguous: %v", err)
	}
	// ...unless all of them are meant.
	res, err = x.client.Override(ctx, OverrideRequest{RealServer: b.Addr().String(), Override: "disable", All: true})
	if err != nil || len(res.Changed) != 2 {
		t.Fatalf("disable --all: %v %+v", err, res)
	}
	// Removed as if down: weight 0 at once, deleted by the next full sync
	// (the fast path has no connection counts).
	if w, _ := weight(webKey, b); w != 0 {
		t.Fatalf("disabled web2 at weight %d", w)
	}
	if err := x.d.Resync(ctx); err != nil {
		t.Fatal(err)
	}
	if _, ok := weight(webKey, b); ok {
		t.Fatal("disabled web2 still in the kernel after a full sync")
	}
	st, _ = x.client.Status(ctx)
	if rs := findRS(st, "api/api1"); rs.State != "disabled" || rs.InTable {
		t.Fatalf("disabled api1: %+v", rs)
	}

	// Overrides survive a reload through the API (a weight changes).
	x.setSource(strings.Replace(testConfig(a, b), "weight  = 50", "weight  = 60", 1))
	rr, err := x.client.Reload(ctx)
	if err != nil || !rr.OK || !rr.Changed || rr.Hash == st.Config.Hash {
		t.Fatalf("reload: %v %+v", err, rr)
	}
	if w, ok := weight(webKey, a); !ok || w != 0 {
		t.Fatalf("drain lost in the reload: weight %d", w)
	}

	// enable by VS/NAME clears it.
	if _, err := x.client.Override(ctx, OverrideRequest{RealServer: "web/web1", Override: "enable"}); err != nil {
		t.Fatal(err)
	}
	if w, _ := weight(webKey, a); w != 100 {
		t.Fatalf("enabled web1: weight %d", w)
	}

	// Bad requests.
	for _, c := range []struct {
		req  OverrideRequest
		code int
	}{
		{OverrideRequest{RealServer: "web/nope", Override: "drain"}, http.StatusNotFound},
		{OverrideRequest{RealServer: "nope/web1", Override: "drain"}, http.StatusNotFound},
		{OverrideRequest{RealServer: "web/web1", Override: "pause"}, http.StatusBadRequest},
		{OverrideRequest{RealServer: "web/web1"}, http.StatusBadRequest},
	} {
		if _, err := x.client.Override(ctx, c.req); !errors.As(err, &apiErr) || apiErr.Status != c.code {
			t.Errorf("%+v: %v, want status %d", c.req, err, c.code)
		}
	}
	// The audit line names who asked.
	found := false
	for _, e := range x.logs.AllEntries() {
		if e.Message == "override requested" && e.Data["uid"] == os.Getuid() && e.Data["pid"] == os.Getpid() {
			found = true
		}
	}
	if !found {
		t.Fatal("no audit line with the caller's uid and pid")
	}
}

func TestReloadRefused(t *testing.T) {
	a, b := backend(t, 1), backend(t, 2)
	x := startDaemon(t, testConfig(a, b), daemonOpts{})
	ctx := context.Background()
	before := x.mem.Writes()
	hash := x.d.Status().ConfigHash
	x.setSource(strings.Replace(testConfig(a, b), `scheduler = "rr"`, `scheduler = "fastest"`, 1))
	_, err := x.client.Reload(ctx)
	var re *ReloadError
	if !errors.As(err, &re) {
		t.Fatalf("refused reload: %v", err)
	}
	r := re.Response
	if r.OK || len(r.Diagnostics) != 1 || r.Diagnostics[0].Severity != "error" || !strings.HasPrefix(r.Diagnostics[0].At, x.file+":28,") {
		t.Fatalf("response: %+v", r)
	}
	if !strings.Contains(r.Text, `scheduler = "fastest"`) {
		t.Fatalf("diagnostics text without the source line:\n%s", r.Text)
	}
	if x.mem.Writes() != before || x.d.Status().ConfigHash != hash {
		t.Fatal("a refused reload changed something")
	}
	st, _ := x.client.Status(ctx)
	if st.Reload.Failures != 1 || st.Reload.OK || st.Reload.Error == "" || st.Reload.Last == nil {
		t.Fatalf("reload status: %+v", st.Reload)
	}
}

func TestReadOnlyTCP(t *testing.T) {
	a, b := backend(t, 1), backend(t, 2)
	x := startDaemon(t, testConfig(a, b), daemonOpts{listen: netip.MustParseAddrPort("127.0.0.1:0")})
	base := "http://" + x.srv.TCPAddr().String()
	resp, err := http.Get(base + "/v1/status")
	if err != nil {
		t.Fatal(err)
	}
	var st Status
	err = json.NewDecoder(resp.Body).Decode(&st)
	resp.Body.Close()
	if err != nil || resp.StatusCode != 200 || st.Node != "lb1" {
		t.Fatalf("GET over TCP: %d %v", resp.StatusCode, err)
	}
	for _, path := range []string{"/v1/reload", "/v1/override", "/v1/failover"} {
		resp, err := http.Post(base+path, "application/json", strings.NewReader(`{"real_server":"web/web1","override":"disable"}`))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden || !strings.Contains(string(body), "read-only") {
			t.Fatalf("POST %s over TCP: %d %s", path, resp.StatusCode, body)
		}
	}
	if len(x.d.Status().Overrides) != 0 || x.d.Status().Reload.Reloads != 0 {
		t.Fatal("a write over TCP took effect")
	}
}

func TestFailover(t *testing.T) {
	a, b := backend(t, 1), backend(t, 2)
	ctx := context.Background()
	var apiErr *APIError

	x := startDaemon(t, testConfig(a, b), daemonOpts{})
	if _, err := x.client.Failover(ctx, FailoverRequest{}); !errors.As(err, &apiErr) || apiErr.Status != http.StatusNotImplemented || !strings.Contains(apiErr.Message, "VRRP is not available") {
		t.Fatalf("failover without VRRP: %v", err)
	}

	var got []string
	y := startDaemon(t, testConfig(a, b), daemonOpts{stepDown: func(_ context.Context, inst string, d time.Duration) ([]string, error) {
		if inst == "nope" {
			return nil, fmt.Errorf("%w %q", ErrNoInstance, inst)
		}
		got = append(got, fmt.Sprintf("%s %v", inst, d))
		return []string{"VI_1"}, nil
	}})
	res, err := y.client.Failover(ctx, FailoverRequest{Instance: "VI_1", For: "2m"})
	if err != nil || len(res.Instances) != 1 || time.Until(res.Until) < time.Minute {
		t.Fatalf("failover: %v %+v", err, res)
	}
	if _, err := y.client.Failover(ctx, FailoverRequest{}); err != nil {
		t.Fatal(err)
	}
	if strings.Join(got, ",") != "VI_1 2m0s, 30s" {
		t.Fatalf("StepDown calls: %q", got)
	}
	if _, err := y.client.Failover(ctx, FailoverRequest{Instance: "nope"}); !errors.As(err, &apiErr) || apiErr.Status != http.StatusNotFound {
		t.Fatalf("unknown instance: %v", err)
	}
	if _, err := y.client.Failover(ctx, FailoverRequest{For: "-1s"}); !errors.As(err, &apiErr) || apiErr.Status != http.StatusBadRequest {
		t.Fatalf("bad duration: %v", err)
	}
}

func TestClientDialErrors(t *testing.T) {
	dir := shortDir(t)
	ctx := context.Background()

	missing := filepath.Join(dir, "missing.sock")
	_, err := NewClient(missing).Status(ctx)
	var de *DialError
	if !errors.As(err, &de) || de.Reach != NotRunning || !strings.Contains(err.Error(), "lvsd is not running: no control socket at "+missing) {
		t.Fatalf("missing socket: %v", err)
	}

	stale := filepath.Join(dir, "stale.sock")
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: stale, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	ln.SetUnlinkOnClose(false)
	ln.Close()
	_, err = NewClient(stale).Status(ctx)
	if !errors.As(err, &de) || de.Reach != NotRunning || !errors.Is(err, syscall.ECONNREFUSED) || !strings.Contains(err.Error(), "nothing answers on "+stale) {
		t.Fatalf("stale socket: %v", err)
	}
	// Permission denied is tested as an unprivileged user from the CLI
	// (cmd/lvsd): root passes every permission check.
}

func TestStopWithRequestsInFlight(t *testing.T) {
	a, b := backend(t, 1), backend(t, 2)
	x := startDaemon(t, testConfig(a, b), daemonOpts{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := NewClient(x.socket)
			defer c.Close()
			for ctx.Err() == nil {
				if _, err := c.Status(ctx); err != nil {
					return
				}
			}
		}()
	}
	time.Sleep(50 * time.Millisecond)
	x.stop()
	cancel()
	wg.Wait()
	if _, err := os.Lstat(x.socket); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("socket left after stop: %v", err)
	}
	var de *DialError
	if _, err := NewClient(x.socket).Status(context.Background()); !errors.As(err, &de) || de.Reach != NotRunning {
		t.Fatalf("after stop: %v", err)
	}
}
