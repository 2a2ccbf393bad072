package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lvsd/lvsd/director/control"
	"github.com/lvsd/lvsd/ipvs"
)

// These tests run the daemon as a process (this test binary re-executed as
// lvsd run) on an in-memory IPVS table, with its real control socket,
// metrics listener, checks and signals, and the CLI as separate processes:
// what an operator types, with its exit statuses. The kernel's side of
// status and metrics is tested in the kernel lab (TestKernel*).

// fakeKernel is the daemon's IPVS table in memory. Its counters are made
// up from each entry's address, deterministically and beyond 32 bits, as a
// busy kernel's would be.
type fakeKernel struct{ *ipvs.Memory }

func newFakeKernel() *fakeKernel { return &fakeKernel{ipvs.NewMemory(ipvs.Table{})} }

func (k *fakeKernel) Close() error { return nil }

// fakeConns is the made-up connection count of a real server: 5e9 plus
// the last byte of its address.
func fakeConns(a netip.AddrPort) uint64 { return 5_000_000_000 + uint64(a.Addr().As16()[15]) }

func (k *fakeKernel) DumpCounters(ctx context.Context) (ipvs.Table, error) {
	t, err := k.Dump(ctx)
	if err != nil {
		return t, err
	}
	for _, vs := range t.Services() {
		var sum uint64
		for i, d := range vs.Destinations {
			n := fakeConns(d.Addr)
			vs.Destinations[i].Stats = ipvs.Counters{ActiveConns: uint32(n % 100), InactiveConns: 2, Conns: n,
				PacketsIn: 3 * n, PacketsOut: 2 * n, BytesIn: 300 * n, BytesOut: 5000 * n, CPS: 10, BPSIn: 4096}
			sum += n
		}
		vs.Stats = ipvs.Counters{Conns: sum, PacketsIn: 3 * sum, PacketsOut: 2 * sum, BytesIn: 300 * sum, BytesOut: 5000 * sum}
		t.Put(vs)
	}
	return t, nil
}

// shortTempDir is a directory for unix sockets (108 bytes at most), open
// to every user so that the permission test can reach into it.
func shortTempDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "lvsd")
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(dir, 0o755)
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// cliResult is one run of the CLI as a process.
type cliResult struct {
	stdout, stderr string
	code           int
}

func (r cliResult) String() string {
	return fmt.Sprintf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
}

// cli runs `lvsd args...` as a process.
func cli(t *testing.T, args ...string) cliResult {
	t.Helper()
	return cliAs(t, nil, os.Args[0], args...)
}

func cliAs(t *testing.T, cred *syscall.Credential, bin string, args ...string) cliResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(os.Environ(), mainEnv+"=1")
	if cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
		cmd.Dir = "/"
	}
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		t.Fatalf("lvsd %v: %v", args, err)
	}
	return cliResult{out.String(), errOut.String(), code}
}

// loopbackServer accepts connections on 127.0.0.host: a real server.
func loopbackServer(t *testing.T, host byte) netip.AddrPort {
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

func freeTCPPort(t *testing.T) uint16 {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return netip.MustParseAddrPort(ln.Addr().String()).Port()
}

// opsConfig: "web" checks two real servers, "api" shares web2's backend
// (so its address alone is ambiguous).
func opsConfig(web1, web2 netip.AddrPort, metricsPort uint16, webWeight2 int) string {
	return fmt.Sprintf(`node_name = "lb1"

metrics {
  listen = "127.0.0.1:%d"
}

virtual_server "web" {
  address   = "192.0.2.10:80"
  scheduler = "wlc"
  check "tcp" {
    interval = "200ms"
    timeout  = "200ms"
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
    weight  = %d
  }
}

virtual_server "api" {
  address   = "192.0.2.10:8080"
  scheduler = "rr"
  real_server {
    name    = "api1"
    address = "%s"
    check "none" {}
  }
}
`, metricsPort, web1, web2, webWeight2, web2)
}

// opsDaemon is a running daemon on the in-memory table.
type opsDaemon struct {
	*lvsdProc
	dir, cfg, socket string
	metricsURL       string
	web1, web2       netip.AddrPort
	metricsPort      uint16
}

func startOpsDaemon(t *testing.T) *opsDaemon {
	t.Helper()
	t.Setenv(memoryEnv, "1")
	x := &opsDaemon{dir: shortTempDir(t), web1: loopbackServer(t, 1), web2: loopbackServer(t, 2), metricsPort: freeTCPPort(t)}
	x.cfg, x.socket = filepath.Join(x.dir, "lvsd.hcl"), filepath.Join(x.dir, "lvsd.sock")
	x.metricsURL = fmt.Sprintf("http://127.0.0.1:%d/metrics", x.metricsPort)
	writeFile(t, x.cfg, opsConfig(x.web1, x.web2, x.metricsPort, 50))
	x.lvsdProc = startLVSD(t, "-c", x.cfg, "--state-file", "", "--socket", x.socket)
	return x
}

func (x *opsDaemon) cli(args ...string) cliResult {
	x.t.Helper()
	return cli(x.t, append(args, "--socket", x.socket)...)
}

// statusJSON reads the daemon's status through the CLI.
func (x *opsDaemon) statusJSON() control.Status {
	x.t.Helper()
	r := x.cli("status", "--json")
	var st control.Status
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &st) != nil {
		x.t.Fatalf("lvsd status --json: %v", r)
	}
	return st
}

// scrape reads the daemon's metrics.
func (x *opsDaemon) scrape() string {
	x.t.Helper()
	resp, err := http.Get(x.metricsURL)
	if err != nil {
		x.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		x.t.Fatalf("scrape: %s", resp.Status)
	}
	return string(b)
}

func mustContain(t *testing.T, what, s string, subs ...string) {
	t.Helper()
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			t.Fatalf("%s lacks %q:\n%s", what, sub, s)
		}
	}
}

func TestOperateRunningDaemon(t *testing.T) {
	x := startOpsDaemon(t)

	// The socket is the daemon's own, mode 0600.
	fi, err := os.Stat(x.socket)
	if err != nil || fi.Mode().Type() != os.ModeSocket || fi.Mode().Perm() != 0o600 {
		t.Fatalf("control socket: %v %v", fi.Mode(), err)
	}

	// Wait for both real servers' first check results.
	var st control.Status
	for deadline := time.Now().Add(20 * time.Second); ; {
		st = x.statusJSON()
		var checked int
		for _, vs := range st.VirtualServers {
			for _, rs := range vs.RealServers {
				if rs.LastCheck != nil {
					checked++
				}
			}
		}
		if checked == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no check results: %+v", st.VirtualServers)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if st.Node != "lb1" || !st.Ready || st.Kernel.CountersRead == nil || len(st.VirtualServers) != 2 {
		t.Fatalf("status: %+v", st)
	}
	web1 := st.VirtualServers[0].RealServers[0]
	if web1.ID != "web/web1" || web1.Totals == nil || web1.Totals.Conns != fakeConns(x.web1) || web1.LastCheck.LatencySeconds <= 0 {
		t.Fatalf("web1: %+v", web1)
	}

	// The table, as ipvsadm -Ln --stats plus health.
	r := x.cli("status")
	if r.code != 0 || r.stderr != "" {
		t.Fatalf("lvsd status: %v", r)
	}
	mustContain(t, "lvsd status", r.stdout,
		"on lb1: running, pid ",
		"VRRP: not running",
		"Prot LocalAddress:Port",
		"# web: wlc, up, weight up 150, quorum 1",
		"TCP  192.0.2.10:80",
		"  -> "+x.web1.String(),
		"Masq",
		"no checks",
		"  -> "+x.web2.String(),
	)
	if !strings.Contains(r.stdout, "5.0G") {
		t.Fatalf("connections not scaled:\n%s", r.stdout)
	}
	for _, line := range strings.Split(r.stdout, "\n") {
		if strings.Contains(line, "-> "+x.web1.String()) && (!strings.Contains(line, " up ") || !strings.Contains(line, "ok ")) {
			t.Fatalf("web1's line: %q", line)
		}
	}
	if r := x.cli("status", "--exact", "web"); r.code != 0 || !strings.Contains(r.stdout, fmt.Sprint(fakeConns(x.web1))) || strings.Contains(r.stdout, "# api") {
		t.Fatalf("lvsd status --exact web: %v", r)
	}
	if r := x.cli("status", "--rate"); r.code != 0 || !strings.Contains(r.stdout, "InBPS") {
		t.Fatalf("lvsd status --rate: %v", r)
	}
	if r := x.cli("status", "nope"); r.code != 1 || !strings.Contains(r.stderr, `no virtual server "nope"`) {
		t.Fatalf("lvsd status nope: %v", r)
	}

	// Completion asks the daemon for real server IDs.
	if r := cli(t, "__complete", "drain", "--socket", x.socket, "web/"); r.code != 0 || !strings.Contains(r.stdout, "web/web1\nweb/web2\n") || strings.Contains(r.stdout, "api/api1") {
		t.Fatalf("completion of drain: %v", r)
	}

	// drain, by ID: weight 0, shown everywhere.
	r = x.cli("drain", "web/web1")
	if r.code != 0 || r.stdout != "web/web1: drained (was enabled)\n" {
		t.Fatalf("lvsd drain web/web1: %v", r)
	}
	r = x.cli("status")
	mustContain(t, "status after drain", r.stdout, "Operator overrides", "web/web1  drain")
	for _, line := range strings.Split(r.stdout, "\n") {
		if strings.Contains(line, "-> "+x.web1.String()) && !strings.Contains(line, "0/100") {
			t.Fatalf("drained web1's line: %q", line)
		}
	}
	mustContain(t, "metrics after drain", x.scrape(),
		`lvsd_real_server_state{rs="web/web1",state="drain",vs="web"} 1`,
		`lvsd_real_server_weight{rs="web/web1",vs="web"} 0`,
		`lvsd_ipvs_real_server_connections_total{rs="web/web1",service="tcp 192.0.2.10:80",vs="web"} `+strconv.FormatFloat(float64(fakeConns(x.web1)), 'g', -1, 64)+"\n",
		`lvsd_check_duration_seconds_count{check="tcp `+x.web1.String(),
		`lvsd_config_info{hash="`+st.Config.Hash+`",node="lb1"} 1`,
	)

	// reload: the change and its one write; the drain stays.
	writeFile(t, x.cfg, opsConfig(x.web1, x.web2, x.metricsPort, 60))
	r = x.cli("reload")
	if r.code != 0 || !strings.Contains(r.stdout, "-e -t 192.0.2.10:80 -r "+x.web2.String()+" -m -w 60\n") ||
		!strings.Contains(r.stdout, "(changed), 1 operation, 1 kernel write\n") {
		t.Fatalf("lvsd reload: %v", r)
	}
	st = x.statusJSON()
	if len(st.Overrides) != 1 || st.Reload.Reloads != 1 || !st.Reload.OK {
		t.Fatalf("after reload: overrides %+v, reload %+v", st.Overrides, st.Reload)
	}

	// An ambiguous address is refused with the candidates; --all takes all.
	r = x.cli("disable", x.web2.Addr().String())
	if r.code != 1 || !strings.Contains(r.stderr, "web/web2, api/api1") || !strings.Contains(r.stderr, "--all") {
		t.Fatalf("ambiguous disable: %v", r)
	}
	r = x.cli("disable", x.web2.Addr().String(), "--all")
	if r.code != 0 || r.stdout != "web/web2: disabled (was enabled)\napi/api1: disabled (was enabled)\n" {
		t.Fatalf("disable --all: %v", r)
	}
	if r := x.cli("enable", "nope/web1"); r.code != 1 || !strings.Contains(r.stderr, `no virtual server "nope"`) {
		t.Fatalf("enable of an unknown real server: %v", r)
	}
	if r := x.cli("drain"); r.code != 1 || !strings.Contains(r.stderr, "requires at least 1 arg") {
		t.Fatalf("drain without RS: %v", r)
	}
	if r := x.cli("enable", "web/web2", "web1", "api1"); r.code != 0 ||
		r.stdout != "web/web2: enabled (was disabled)\nweb/web1: enabled (was drained)\napi/api1: enabled (was disabled)\n" {
		t.Fatalf("enable by ID and by name: %v", r)
	}
	if st := x.statusJSON(); len(st.Overrides) != 0 {
		t.Fatalf("overrides left: %+v", st.Overrides)
	}

	// A bad file is refused with its errors and the offending line.
	hash := x.statusJSON().Config.Hash
	writeFile(t, x.cfg, strings.Replace(opsConfig(x.web1, x.web2, x.metricsPort, 60), `scheduler = "rr"`, `scheduler = "fastest"`, 1))
	r = x.cli("reload")
	if r.code != 2 {
		t.Fatalf("refused reload: %v", r)
	}
	mustContain(t, "refused reload", r.stderr, "Error: Unknown scheduler", `scheduler = "fastest"`, "reload refused, nothing changed")
	if h := x.statusJSON().Config.Hash; h != hash {
		t.Fatal("a refused reload changed the configuration")
	}
	mustContain(t, "metrics after reloads", x.scrape(),
		`lvsd_config_reloads_total{result="failure"} 1`,
		`lvsd_config_reloads_total{result="success"} 1`,
		`lvsd_config_last_reload_success 0`,
	)

	// No VRRP in this configuration: failover says so.
	if r := x.cli("failover", "--for", "10s"); r.code != 1 || !strings.Contains(r.stderr, "VRRP is not available") {
		t.Fatalf("failover: %v", r)
	}

	// The writes were logged with who asked.
	if l := x.logged(0, "override requested"); len(l) < 3 || l[0].num("uid") != float64(os.Getuid()) {
		t.Fatalf("audit lines: %v", l)
	}

	// SIGTERM: exit 0, the socket gone, and the CLI says lvsd is not
	// running.
	x.signal(syscall.SIGTERM)
	if err := x.wait(20 * time.Second); err != nil {
		t.Fatalf("exit after SIGTERM: %v", err)
	}
	if _, err := os.Lstat(x.socket); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("socket left after SIGTERM: %v", err)
	}
	r = x.cli("status")
	if r.code != exitNotRunning || !strings.Contains(r.stderr, "lvsd is not running: no control socket at "+x.socket) {
		t.Fatalf("status of a stopped daemon: %v", r)
	}
}

func TestStaleAndBusySockets(t *testing.T) {
	x := startOpsDaemon(t)
	// A second daemon on the same socket refuses to start, and leaves the
	// first one alone.
	r := cli(t, "run", "-c", x.cfg, "--state-file", "", "--socket", x.socket)
	if r.code != 1 || !strings.Contains(r.stderr, "answers on "+x.socket) {
		t.Fatalf("second daemon: %v", r)
	}
	if r := x.cli("status"); r.code != 0 {
		t.Fatalf("the first daemon after the second's attempt: %v", r)
	}
	// A crash leaves the socket; nothing answers on it.
	x.signal(syscall.SIGKILL)
	x.wait(20 * time.Second)
	if _, err := os.Lstat(x.socket); err != nil {
		t.Fatalf("no socket left by SIGKILL: %v", err)
	}
	r = x.cli("drain", "web/web1")
	if r.code != exitNotRunning || !strings.Contains(r.stderr, "lvsd is not running: nothing answers on "+x.socket) {
		t.Fatalf("drain with a stale socket: %v", r)
	}
	// The next daemon replaces it.
	y := startLVSD(t, "-c", x.cfg, "--state-file", "", "--socket", x.socket)
	y.waitLog(0, 5*time.Second, "removed a stale control socket nothing answered on")
	if r := x.cli("status"); r.code != 0 {
		t.Fatalf("status of the restarted daemon: %v", r)
	}
}

// lvsd drain is kept in the overrides file: the next daemon starts with
// the real server drained, and lvsd enable clears it for good.
func TestOverridesSurviveRestart(t *testing.T) {
	t.Setenv(memoryEnv, "1")
	x := &opsDaemon{dir: shortTempDir(t), web1: loopbackServer(t, 1), web2: loopbackServer(t, 2), metricsPort: freeTCPPort(t)}
	x.cfg, x.socket = filepath.Join(x.dir, "lvsd.hcl"), filepath.Join(x.dir, "lvsd.sock")
	writeFile(t, x.cfg, opsConfig(x.web1, x.web2, x.metricsPort, 50))
	file := filepath.Join(x.dir, "state", "overrides.json")
	start := func() {
		x.lvsdProc = startLVSD(t, "-c", x.cfg, "--state-file", "", "--overrides-file", file, "--socket", x.socket)
	}
	stop := func() {
		x.signal(syscall.SIGTERM)
		if err := x.wait(20 * time.Second); err != nil {
			t.Fatal(err)
		}
	}
	overrides := func() []control.OverrideInfo { return x.statusJSON().Overrides }
	start()
	if r := x.cli("drain", "web/web1"); r.code != 0 {
		t.Fatalf("drain: %v", r)
	}
	stop()
	start()
	x.waitLog(0, 5*time.Second, "operator override restored")
	if o := overrides(); len(o) != 1 || o[0].RealServer != "web/web1" || o[0].Override != "drain" || !o[0].Configured {
		t.Fatalf("overrides after the restart: %+v", o)
	}
	if r := x.cli("enable", "web/web1"); r.code != 0 {
		t.Fatalf("enable: %v", r)
	}
	stop()
	start()
	if o := overrides(); len(o) != 0 {
		t.Fatalf("overrides after enable and a restart: %+v", o)
	}
	// A corrupt file stops the daemon at start, naming it.
	stop()
	writeFile(t, file, "{not json")
	r := cli(t, "run", "-c", x.cfg, "--state-file", "", "--overrides-file", file, "--socket", x.socket)
	if r.code == 0 || !strings.Contains(r.stderr, "operator overrides "+file) {
		t.Fatalf("run with a corrupt overrides file: %v", r)
	}
}

func TestPermissionDenied(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root to run the CLI as another user (make test runs as root)")
	}
	x := startOpsDaemon(t)
	// The test binary, where user nobody can run it.
	bin := filepath.Join(x.dir, "lvsd")
	b, err := os.ReadFile(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, b, 0o755); err != nil {
		t.Fatal(err)
	}
	nobody := &syscall.Credential{Uid: 65534, Gid: 65534}
	r := cliAs(t, nobody, bin, "drain", "web/web1", "--socket", x.socket)
	if r.code != exitDenied || !strings.Contains(r.stderr, "permission denied on the control socket "+x.socket+" (mode 0600, owner root:") {
		t.Fatalf("drain as nobody: %v", r)
	}
	if len(x.statusJSON().Overrides) != 0 {
		t.Fatal("nobody's drain took effect")
	}
}

func TestCLIWithoutDaemon(t *testing.T) {
	dir := shortTempDir(t)
	sock := filepath.Join(dir, "none.sock")
	for _, args := range [][]string{{"status"}, {"status", "--json"}, {"drain", "web/web1"}, {"enable", "x"}, {"disable", "x"}, {"reload"}, {"failover"}} {
		r := cli(t, append(args, "--socket", sock)...)
		if r.code != exitNotRunning || r.stdout != "" || !strings.Contains(r.stderr, "lvsd: lvsd is not running: no control socket at "+sock) {
			t.Errorf("lvsd %v: %v", args, r)
		}
	}
	// The default path comes from LVSD_SOCKET.
	t.Setenv(socketEnv, sock)
	if r := cli(t, "status"); r.code != exitNotRunning || !strings.Contains(r.stderr, sock) {
		t.Errorf("LVSD_SOCKET: %v", r)
	}
}

func TestHelpOfEveryCommand(t *testing.T) {
	for _, c := range documented(newRootCmd()) {
		if c.Long == "" || c.Example == "" {
			t.Errorf("%s: no Long text or no examples", c.CommandPath())
		}
		args := append(strings.Fields(strings.TrimPrefix(c.CommandPath(), "lvsd ")), "--help")
		stdout, _, code := runLVSD(t, append([]string{"help"}, args[:len(args)-1]...)...)
		if code != 0 || !strings.Contains(stdout, "Examples:") || !strings.Contains(stdout, "Usage:") {
			t.Errorf("lvsd help %s: exit %d\n%s", strings.Join(args[:len(args)-1], " "), code, stdout)
		}
	}
}

func TestCLIReferenceIsCurrent(t *testing.T) {
	var b bytes.Buffer
	if err := writeCLIReference(&b, newRootCmd()); err != nil {
		t.Fatal(err)
	}
	have, err := os.ReadFile("../../docs/cli.md")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(have, b.Bytes()) {
		t.Fatal("docs/cli.md is stale: run make docs")
	}
	for _, c := range documented(newRootCmd()) {
		if !bytes.Contains(have, []byte("\n## "+c.CommandPath()+"\n")) {
			t.Errorf("docs/cli.md has no section for %s", c.CommandPath())
		}
	}
}

func TestCompletionScripts(t *testing.T) {
	for _, shell := range []string{"bash", "zsh", "fish"} {
		stdout, stderr, code := runLVSD(t, "completion", shell)
		if code != 0 || len(stdout) < 1000 || !strings.Contains(stdout, "lvsd") {
			t.Errorf("completion %s: exit %d, %d bytes, %s", shell, code, len(stdout), stderr)
		}
		if shell == "bash" {
			if _, err := exec.LookPath("bash"); err == nil {
				cmd := exec.Command("bash", "-n")
				cmd.Stdin = strings.NewReader(stdout)
				if out, err := cmd.CombinedOutput(); err != nil {
					t.Errorf("bash -n: %v\n%s", err, out)
				}
			}
		}
	}
	if _, stderr, code := runLVSD(t, "completion", "tcsh"); code != 1 || !strings.Contains(stderr, "tcsh") {
		t.Errorf("completion tcsh: exit %d %s", code, stderr)
	}
}

func TestScaledNumbers(t *testing.T) {
	for n, want := range map[uint64]string{0: "0", 99999: "99999", 100000: "100K", 1234567: "1.2M", 5_000_000_011: "5.0G", 1 << 50: "1.1P", 18446744073709551615: "18447P"} {
		if got := scaled(n); got != want {
			t.Errorf("scaled(%d) = %q, want %q", n, got, want)
		}
	}
}

// TestJournalDropsTimestamps: with standard error on the journal
// (JOURNAL_STREAM names it), text lines carry no time of their own.
func TestJournalDropsTimestamps(t *testing.T) {
	dir := shortTempDir(t)
	cfg := filepath.Join(dir, "lvsd.hcl")
	writeFile(t, cfg, "node_name = \"lb1\"\n")
	notSocket := filepath.Join(dir, "file")
	writeFile(t, notSocket, "x")
	for _, journal := range []bool{false, true} {
		f, err := os.Create(filepath.Join(dir, fmt.Sprintf("stderr-%v", journal)))
		if err != nil {
			t.Fatal(err)
		}
		// The daemon starts, logs, and stops at once: its socket path is
		// taken by a file.
		cmd := exec.Command(os.Args[0], "run", "-c", cfg, "--state-file", "", "--socket", notSocket)
		cmd.Env = append(os.Environ(), mainEnv+"=1", memoryEnv+"=1")
		if journal {
			var st syscall.Stat_t
			if err := syscall.Fstat(int(f.Fd()), &st); err != nil {
				t.Fatal(err)
			}
			cmd.Env = append(cmd.Env, fmt.Sprintf("JOURNAL_STREAM=%d:%d", st.Dev, st.Ino))
		}
		cmd.Stderr = f
		err = cmd.Run()
		f.Close()
		out := readFile(t, f.Name())
		if err == nil || !strings.Contains(out, `msg="lvsd starting" component=daemon`) || !strings.Contains(out, "is not a socket") {
			t.Fatalf("journal %v: %v\n%s", journal, err, out)
		}
		if strings.Contains(out, "time=") == journal {
			t.Fatalf("journal %v, timestamps:\n%s", journal, out)
		}
	}
}

// TestNodeNameDefaultsToHostName: without node_name the daemon is named
// after the host, as keepalived's router_id is, in its logs and hooks.
func TestNodeNameDefaultsToHostName(t *testing.T) {
	host, err := os.Hostname()
	if err != nil || host == "" {
		t.Skip("this machine has no host name to default to")
	}
	dir := shortTempDir(t)
	cfg := filepath.Join(dir, "lvsd.hcl")
	writeFile(t, cfg, "logging {\n  level = \"info\"\n}\n")
	notSocket := filepath.Join(dir, "file")
	writeFile(t, notSocket, "x")
	// The daemon starts, logs, and stops at once: its socket path is taken.
	cmd := exec.Command(os.Args[0], "run", "-c", cfg, "--state-file", "", "--socket", notSocket)
	cmd.Env = append(os.Environ(), mainEnv+"=1", memoryEnv+"=1")
	out, _ := cmd.CombinedOutput()
	if !strings.Contains(string(out), "node="+host) {
		t.Fatalf("no node=%s on the start line:\n%s", host, out)
	}
}
