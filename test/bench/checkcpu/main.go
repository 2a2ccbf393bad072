// Command checkcpu compares the CPU that keepalived's health checker and
// lvsd spend on the same TCP checks, in one boot of the kernel lab (both
// need IPVS: keepalived's checker exits without it).
//
// It starts two identical sets of N TCP servers on loopback addresses
// (benchchecks -serve; one set on port 8080 for keepalived, one on 8081 for
// lvsd, so each checker's rate is counted apart), keepalived -C (its checker
// only) with a TCP_CHECK of each of its servers every interval, and
// `lvsd run` with a tcp check of each of its servers. Both run at once and
// are measured over the same windows: the emulated machine's speed varies
// with the host's load, and a shared window shares that. For each window it
// samples the checkers' CPU time from /proc and counts the SYNs each
// sends (nftables counters), so the rates are measured, not assumed, and
// prints the CPU per check and the ratio keepalived / lvsd.
//
//	make bench-checks-keepalived                 # 1,000 servers each, every 1s, 3 windows of 20s
//	make bench-checks-keepalived BENCH_ARGS='-n 2000 -windows 5'
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

const kaPort, lvsdPort = 8080, 8081

type config struct {
	n        int
	interval time.Duration
	timeout  time.Duration
	window   time.Duration
	windows  int
	warmup   time.Duration
	dir      string
	bench    string
	lvsd     string
	lvsdEnv  []string
}

func main() {
	var c config
	flag.IntVar(&c.n, "n", 1000, "servers per checker, each checked once per interval")
	flag.DurationVar(&c.interval, "interval", time.Second, "check interval (keepalived's delay_loop)")
	flag.DurationVar(&c.timeout, "timeout", time.Second, "check timeout (connect_timeout)")
	flag.DurationVar(&c.window, "window", 20*time.Second, "length of one measurement window")
	flag.IntVar(&c.windows, "windows", 3, "measurement windows")
	flag.DurationVar(&c.warmup, "warmup", 5*time.Second, "time both checkers run before the first window")
	flag.StringVar(&c.bench, "benchchecks", "", "the benchchecks binary (default $LVSD_LAB_FILES/benchchecks)")
	flag.StringVar(&c.lvsd, "lvsd", "", "the lvsd binary (default $LVSD_LAB_FILES/lvsd)")
	env := flag.String("lvsd-env", "", "environment for lvsd, e.g. GOMAXPROCS=1 (space-separated K=V)")
	flag.Parse()
	c.lvsdEnv = strings.Fields(*env)
	files := os.Getenv("LVSD_LAB_FILES")
	if c.bench == "" {
		c.bench = filepath.Join(files, "benchchecks")
	}
	if c.lvsd == "" {
		c.lvsd = filepath.Join(files, "lvsd")
	}
	var err error
	if c.dir, err = os.MkdirTemp("", "checkcpu-"); err != nil {
		fail(err)
	}
	defer os.RemoveAll(c.dir)
	if err := run(c); err != nil {
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "checkcpu:", err)
	os.Exit(1)
}

// sample is one checker's CPU and SYN count at one moment.
type sample struct {
	cpu  time.Duration
	syns int64
}

// perK is CPU cores per 1,000 checks per second between two samples.
func perK(a, b sample) float64 {
	if b.syns <= a.syns {
		return 0
	}
	return (b.cpu - a.cpu).Seconds() / float64(b.syns-a.syns) * 1000
}

func run(c config) error {
	ctx := context.Background()
	kernel, _ := os.ReadFile("/proc/sys/kernel/osrelease")
	fmt.Printf("checker CPU, keepalived and lvsd at once: %d TCP servers on loopback for each, each checked every %v (connect, then close), %d windows of %v, %d CPUs, Linux %s\n",
		c.n, c.interval, c.windows, c.window, runtime.NumCPU(), strings.TrimSpace(string(kernel)))
	if len(c.lvsdEnv) > 0 {
		fmt.Printf("lvsd's environment: %s\n", strings.Join(c.lvsdEnv, " "))
	}
	for _, port := range []int{kaPort, lvsdPort} {
		stop, err := servers(c, port)
		if err != nil {
			return err
		}
		defer stop()
	}
	kaConf, targets := filepath.Join(c.dir, "keepalived.conf"), filepath.Join(c.dir, "targets")
	if err := emit(c, kaPort, "-emit-keepalived", kaConf); err != nil {
		return err
	}
	if err := emit(c, lvsdPort, "-emit-targets", targets); err != nil {
		return err
	}
	if err := nft(ctx, fmt.Sprintf(`table inet checkcpu {
  chain out {
    type filter hook output priority 0; policy accept;
    tcp dport %d tcp flags & (syn | ack) == syn counter
    tcp dport %d tcp flags & (syn | ack) == syn counter
  }
}
`, kaPort, lvsdPort)); err != nil {
		return err
	}
	defer func() { _ = nft(ctx, "delete table inet checkcpu\n") }()

	kaPids, stopKa, err := startKeepalived(ctx, c, kaConf)
	if err != nil {
		return fmt.Errorf("keepalived: %w", err)
	}
	defer stopKa()
	lvsdPid, stopLvsd, err := startLvsd(c, targets)
	if err != nil {
		return fmt.Errorf("lvsd: %w", err)
	}
	defer stopLvsd()
	time.Sleep(c.warmup)

	take := func() (ka, lv sample, err error) {
		syn, err := syns(ctx)
		if err != nil {
			return ka, lv, err
		}
		return sample{cpuOf(kaPids), syn[0]}, sample{cpuOf([]int{lvsdPid}), syn[1]}, nil
	}
	fmt.Printf("\n%-7s %-24s %-24s %s\n", "window", "keepalived -C", "lvsd run", "keepalived / lvsd (CPU per check)")
	var ratios []float64
	var kaSum, lvSum sample
	ka0, lv0, err := take()
	if err != nil {
		return err
	}
	first := [2]sample{ka0, lv0}
	for i := range c.windows {
		t0 := time.Now()
		time.Sleep(c.window)
		ka1, lv1, err := take()
		if err != nil {
			return err
		}
		sec := time.Since(t0).Seconds()
		cell := func(a, b sample) string {
			return fmt.Sprintf("%4.0f/s %5.3f core", float64(b.syns-a.syns)/sec, (b.cpu-a.cpu).Seconds()/sec)
		}
		r := perK(ka0, ka1) / perK(lv0, lv1)
		ratios = append(ratios, r)
		fmt.Printf("%-7d %-24s %-24s %.2f\n", i+1, cell(ka0, ka1), cell(lv0, lv1), r)
		ka0, lv0 = ka1, lv1
	}
	kaSum, lvSum = ka0, lv0
	sort.Float64s(ratios)
	fmt.Printf("\nCPU per 1,000 checks/s over all windows: keepalived %.3f core, lvsd %.3f core\n",
		perK(first[0], kaSum), perK(first[1], lvSum))
	fmt.Printf("keepalived / lvsd, CPU per check: %.2f (median of %d windows; %.2f to %.2f)\n",
		ratios[len(ratios)/2], len(ratios), ratios[0], ratios[len(ratios)-1])
	fmt.Printf("peak RSS: keepalived %.1f MiB (both processes), lvsd %.1f MiB\n",
		float64(peakRSS(kaPids[0])+peakRSS(kaPids[1]))/1024, float64(peakRSS(lvsdPid))/1024)
	return nil
}

// servers starts N servers on port in a child process (whose CPU nobody
// counts) and returns how to stop them.
func servers(c config, port int) (func(), error) {
	srv := exec.Command(c.bench, "-serve", "-kind", "tcp", "-n", strconv.Itoa(c.n), "-port", strconv.Itoa(port))
	srv.Stderr = os.Stderr
	stdin, err := srv.StdinPipe()
	if err != nil {
		return nil, err
	}
	out, err := srv.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := srv.Start(); err != nil {
		return nil, fmt.Errorf("start the servers: %w", err)
	}
	stop := func() { stdin.Close(); _ = srv.Wait() }
	sc := bufio.NewScanner(out)
	if !sc.Scan() || !strings.HasPrefix(sc.Text(), "ready") {
		stop()
		return nil, fmt.Errorf("servers on port %d did not start: %q", port, sc.Text())
	}
	go func() { _, _ = io.Copy(io.Discard, out) }()
	return stop, nil
}

func emit(c config, port int, flag, file string) error {
	if b, err := exec.Command(c.bench, "-kind", "tcp", "-n", strconv.Itoa(c.n), "-port", strconv.Itoa(port),
		"-interval", c.interval.String(), "-timeout", c.timeout.String(), flag, file).CombinedOutput(); err != nil {
		return fmt.Errorf("benchchecks %s: %w: %s", flag, err, b)
	}
	return nil
}

// startKeepalived runs keepalived's checker on the emitted configuration
// (one virtual server per 1,000 real servers, on 10.255.x.1:80) and waits
// until it has programmed every real server.
func startKeepalived(ctx context.Context, c config, conf string) ([]int, func(), error) {
	pid, cpid := filepath.Join(c.dir, "keepalived.pid"), filepath.Join(c.dir, "checkers.pid")
	logf, err := os.Create(filepath.Join(c.dir, "keepalived.log"))
	if err != nil {
		return nil, nil, err
	}
	cmd := exec.Command("keepalived", "-n", "-l", "-G", "-C", "-f", conf, "-p", pid, "-c", cpid)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, nil, err
	}
	stop := func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		logf.Close()
	}
	deadline := time.Now().Add(2 * time.Minute)
	var child int
	for {
		if b, err := os.ReadFile(cpid); err == nil {
			child, _ = strconv.Atoi(strings.TrimSpace(string(b)))
		}
		if child > 0 && tableDests(ctx) >= c.n {
			break
		}
		if time.Now().After(deadline) {
			tail, _ := os.ReadFile(logf.Name())
			stop()
			return nil, nil, fmt.Errorf("its checker did not program %d real servers in 2 minutes (pid %d); log:\n%s", c.n, child, lastLines(string(tail), 20))
		}
		time.Sleep(200 * time.Millisecond)
	}
	version, _ := exec.Command("keepalived", "--version").CombinedOutput()
	v, _, _ := strings.Cut(strings.TrimSpace(string(version)), "\n")
	fmt.Printf("keepalived: %s, pids %d (parent) and %d (checker), TCP_CHECK connect_timeout %v, delay_loop %v\n", v, cmd.Process.Pid, child, c.timeout, c.interval)
	return []int{cmd.Process.Pid, child}, stop, nil
}

// startLvsd runs `lvsd run` with one virtual server (10.254.0.1:80) over
// every server of its set.
func startLvsd(c config, targets string) (int, func(), error) {
	addrs, err := readTargets(targets)
	if err != nil {
		return 0, nil, err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "control {\n  socket = %q\n}\n\nvirtual_server \"bench\" {\n  address   = \"10.254.0.1:80\"\n  scheduler = \"rr\"\n  forward   = \"nat\"\n", filepath.Join(c.dir, "lvsd.sock"))
	fmt.Fprintf(&b, "  check \"tcp\" {\n    interval = %q\n    timeout  = %q\n    rise     = 2\n    fall     = 3\n  }\n", c.interval, c.timeout)
	for _, a := range addrs {
		fmt.Fprintf(&b, "  real_server {\n    address = %q\n  }\n", a)
	}
	b.WriteString("}\n")
	conf := filepath.Join(c.dir, "lvsd.hcl")
	if err := os.WriteFile(conf, []byte(b.String()), 0o644); err != nil {
		return 0, nil, err
	}
	logf, err := os.Create(filepath.Join(c.dir, "lvsd.log"))
	if err != nil {
		return 0, nil, err
	}
	cmd := exec.Command(c.lvsd, "run", "-c", conf, "--state-file", filepath.Join(c.dir, "owned"), "--log-format", "json")
	cmd.Env = append(append(os.Environ(), "NOTIFY_SOCKET="), c.lvsdEnv...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		return 0, nil, err
	}
	stop := func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
		logf.Close()
	}
	deadline := time.Now().Add(2 * time.Minute)
	for {
		log, _ := os.ReadFile(logf.Name())
		if strings.Contains(string(log), "IPVS table programmed; running") {
			break
		}
		if time.Now().After(deadline) {
			stop()
			return 0, nil, fmt.Errorf("did not start in 2 minutes; log:\n%s", lastLines(string(log), 20))
		}
		time.Sleep(200 * time.Millisecond)
	}
	v, _ := exec.Command(c.lvsd, "version").CombinedOutput()
	fmt.Printf("lvsd: %s, pid %d, check \"tcp\" timeout %v, interval %v (closes with RST)\n", strings.TrimSpace(string(v)), cmd.Process.Pid, c.timeout, c.interval)
	return cmd.Process.Pid, stop, nil
}

// cpuOf sums the user and system CPU of the processes (from /proc).
func cpuOf(pids []int) time.Duration {
	var total time.Duration
	for _, pid := range pids {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			continue
		}
		s := string(b)
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
		ut, _ := strconv.ParseInt(f[11], 10, 64)
		st, _ := strconv.ParseInt(f[12], 10, 64)
		total += time.Duration(ut+st) * time.Second / 100 // USER_HZ
	}
	return total
}

func peakRSS(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return n
		}
	}
	return 0
}

var packets = regexp.MustCompile(`counter packets (\d+)`)

// syns reads the two SYN counters: keepalived's port, lvsd's.
func syns(ctx context.Context) ([2]int64, error) {
	var out [2]int64
	b, err := exec.CommandContext(ctx, "nft", "list", "table", "inet", "checkcpu").CombinedOutput()
	if err != nil {
		return out, fmt.Errorf("nft list: %w: %s", err, b)
	}
	m := packets.FindAllSubmatch(b, -1)
	if len(m) != 2 {
		return out, fmt.Errorf("nft: want two counters in:\n%s", b)
	}
	for i := range out {
		out[i], _ = strconv.ParseInt(string(m[i][1]), 10, 64)
	}
	return out, nil
}

func nft(ctx context.Context, script string) error {
	cmd := exec.CommandContext(ctx, "nft", "-f", "-")
	cmd.Stdin = strings.NewReader(script)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("nft: %w: %s", err, out)
	}
	return nil
}

// tableDests counts the real servers in the kernel's IPVS table.
func tableDests(ctx context.Context) int {
	out, err := exec.CommandContext(ctx, "ipvsadm", "-Ln").Output()
	if err != nil {
		return 0
	}
	return strings.Count(string(out), "  -> ") - 1 // the header has one
}

func readTargets(path string) ([]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 && f[0] == "tcp" {
			if _, err := netip.ParseAddrPort(f[1]); err != nil {
				return nil, err
			}
			out = append(out, f[1])
		}
	}
	return out, nil
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
