// Command benchchecks measures the checkers Runner against many real
// servers: CPU used by the checking process (in cores), its peak RSS, the
// delay between when a check was scheduled and when it started, and the
// delay from the fall-th failed check to the verdict callback.
//
// By default it starts its own servers (TCP or HTTP listeners on 127.x.y.z
// addresses) in a child process, so that their CPU is not counted: only
// this process's rusage is. With -targets it checks a list of existing
// servers instead and starts nothing, for side-by-side runs with another
// checker (e.g. keepalived in the kernel lab); -peer-pid then samples that
// process's CPU over the same window.
//
//	go run ./checkers/internal/benchchecks -kind tcp,http -n 10000
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
	"runtime"
	"runtime/pprof"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lvsd/lvsd/checkers"
	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"
)

type config struct {
	kinds    []string
	n        int
	interval time.Duration
	timeout  time.Duration
	duration time.Duration
	kill     int
	targets  string
	peerPid  int
	port     int
	res      time.Duration
}

func main() {
	var c config
	var kinds string
	serve := flag.Bool("serve", false, "internal: run the servers (child process)")
	flag.StringVar(&kinds, "kind", "tcp,http", "kinds to run, in order: tcp, http, icmp")
	flag.IntVar(&c.n, "n", 10000, "number of servers (and checks)")
	flag.DurationVar(&c.interval, "interval", time.Second, "check interval")
	flag.DurationVar(&c.timeout, "timeout", time.Second, "check timeout")
	flag.DurationVar(&c.duration, "duration", 60*time.Second, "measurement window, after one interval of warmup")
	flag.IntVar(&c.kill, "kill", 100, "servers stopped after the window, to measure fall-to-verdict (0: skip)")
	flag.StringVar(&c.targets, "targets", "", "file of targets to check instead of starting servers: lines 'tcp ADDR:PORT', 'http ADDR:PORT [PATH]', 'icmp ADDR'")
	flag.IntVar(&c.peerPid, "peer-pid", 0, "also report the CPU of this process over the same window (e.g. keepalived's checker)")
	flag.IntVar(&c.port, "port", 8080, "port the servers listen on")
	flag.DurationVar(&c.res, "resolution", 0, "the Runner's scheduling resolution (0: its default)")
	base := flag.String("serve-base", serverBase.String(), "address of the first server")
	spread := flag.String("spread", "addrs", "servers on consecutive addresses (addrs) or ports (ports)")
	emitTargets := flag.String("emit-targets", "", "write the servers' target list (for -targets) to this file and exit")
	emitKeepalived := flag.String("emit-keepalived", "", "write a keepalived.conf checking the same servers (TCP_CHECK or HTTP_GET, same interval, timeout and fall) to this file and exit")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile of the measurement to this file")
	flag.Parse()
	c.kinds = strings.Split(kinds, ",")
	var err error
	if serverBase, err = netip.ParseAddr(*base); err != nil {
		fmt.Fprintln(os.Stderr, "benchchecks: -serve-base:", err)
		os.Exit(2)
	}
	spreadPorts = *spread == "ports"
	if *emitTargets != "" || *emitKeepalived != "" {
		if err := emit(c, *emitTargets, *emitKeepalived); err != nil {
			fmt.Fprintln(os.Stderr, "benchchecks:", err)
			os.Exit(1)
		}
		return
	}

	raiseNoFile()
	if *cpuprofile != "" && !*serve {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			fmt.Fprintln(os.Stderr, "benchchecks:", err)
			os.Exit(1)
		}
		_ = pprof.StartCPUProfile(f)
		defer pprof.StopCPUProfile()
	}
	if *serve {
		if err := runServers(c.kinds[0], c.n, c.port); err != nil {
			fmt.Fprintln(os.Stderr, "benchchecks serve:", err)
			os.Exit(1)
		}
		return
	}
	var rows []row
	if c.targets != "" {
		defs, err := readTargets(c.targets, c)
		if err != nil {
			fmt.Fprintln(os.Stderr, "benchchecks:", err)
			os.Exit(1)
		}
		r, err := measure(c, "targets", defs, nil)
		if err != nil {
			fmt.Fprintln(os.Stderr, "benchchecks:", err)
			os.Exit(1)
		}
		rows = append(rows, r)
	} else {
		for _, kind := range c.kinds {
			r, err := runKind(c, kind)
			if err != nil {
				fmt.Fprintf(os.Stderr, "benchchecks %s: %v\n", kind, err)
				os.Exit(1)
			}
			rows = append(rows, r)
			runtime.GC()
		}
	}
	printTable(os.Stdout, c, rows)
}

// raiseNoFile lifts the open-file limit: 10,000 listeners and as many
// connections need more than the usual 1024 (or 20,000).
func raiseNoFile() {
	var l unix.Rlimit
	if unix.Getrlimit(unix.RLIMIT_NOFILE, &l) != nil {
		return
	}
	want := uint64(1 << 20)
	if l.Max < want {
		// Root may raise the hard limit; others keep theirs.
		if unix.Setrlimit(unix.RLIMIT_NOFILE, &unix.Rlimit{Cur: want, Max: want}) == nil {
			return
		}
		want = l.Max
	}
	_ = unix.Setrlimit(unix.RLIMIT_NOFILE, &unix.Rlimit{Cur: want, Max: l.Max})
}

// serverBase and spreadPorts place the servers: by default on 127.10.0.1,
// 127.10.0.2, ... (every 127/8 address is on lo) at one port; with
// -spread ports on one address at consecutive ports.
var (
	serverBase  = netip.MustParseAddr("127.10.0.1")
	spreadPorts bool
)

// serverAddr is the i-th server's address.
func serverAddr(i, port int) netip.AddrPort {
	if spreadPorts {
		return netip.AddrPortFrom(serverBase, uint16(port+i))
	}
	if serverBase.Is4() && serverBase.As4()[0] == 127 {
		// Skip .0 and .255 so every address looks like a host's.
		b := serverBase.As4()
		n := uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3]-1)
		n += uint32(i/250)<<8 + uint32(i%250)
		return netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, byte(n >> 16), byte(n >> 8), byte(n) + 1}), uint16(port))
	}
	a := serverBase
	for range i {
		a = a.Next()
	}
	return netip.AddrPortFrom(a, uint16(port))
}

// runKind starts the servers in a child process, checks them, and stops
// them.
func runKind(c config, kind string) (row, error) {
	var child *exec.Cmd
	var ctl io.WriteCloser
	var replies *bufio.Scanner
	if kind != "icmp" {
		child = exec.Command(os.Args[0], "-serve", "-kind", kind, "-n", strconv.Itoa(c.n), "-port", strconv.Itoa(c.port),
			"-serve-base", serverBase.String(), "-spread", map[bool]string{true: "ports", false: "addrs"}[spreadPorts])
		child.Stderr = os.Stderr
		var err error
		if ctl, err = child.StdinPipe(); err != nil {
			return row{}, err
		}
		out, err := child.StdoutPipe()
		if err != nil {
			return row{}, err
		}
		if err := child.Start(); err != nil {
			return row{}, err
		}
		defer func() {
			ctl.Close()
			_ = child.Wait()
		}()
		replies = bufio.NewScanner(out)
		if !replies.Scan() || !strings.HasPrefix(replies.Text(), "ready") {
			return row{}, fmt.Errorf("servers did not start: %q", replies.Text())
		}
	}
	defs := make([]checkers.Definition, c.n)
	for i := range defs {
		defs[i] = definition(kind, serverAddr(i, c.port), "/", c)
	}
	var kill func(int) error
	if child != nil {
		kill = func(k int) error {
			fmt.Fprintf(ctl, "kill %d\n", k)
			if !replies.Scan() {
				return fmt.Errorf("servers: no reply to kill")
			}
			return nil
		}
	}
	r, err := measure(c, kind, defs, kill)
	if err == nil && kind == "tcp" {
		// After the fall test the first c.kill servers are gone.
		r.floor = connectFloor(serverAddr(min(c.kill, c.n-1), c.port), 20000)
	}
	return r, err
}

// connectFloor measures the CPU a bare blocking connect + reset close
// costs this process against a server in another process: the kernel's
// share of a tcp check (on loopback it includes the server side's
// handshake, run in the connecting process's softirq).
func connectFloor(a netip.AddrPort, n int) time.Duration {
	sa := &unix.SockaddrInet4{Port: int(a.Port()), Addr: a.Addr().As4()}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	start := cpuTime()
	for range n {
		fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return 0
		}
		_ = unix.SetsockoptLinger(fd, unix.SOL_SOCKET, unix.SO_LINGER, &unix.Linger{Onoff: 1, Linger: 0})
		err = unix.Connect(fd, sa)
		unix.Close(fd)
		if err != nil {
			return 0
		}
	}
	return (cpuTime() - start) / time.Duration(n)
}

func definition(kind string, a netip.AddrPort, path string, c config) checkers.Definition {
	s := checkers.Settings{Interval: c.interval, Timeout: c.timeout, Rise: 2, Fall: 3}
	var spec checkers.Spec
	switch kind {
	case "http":
		spec = checkers.HTTPSpec{Path: path}
	case "icmp":
		spec = checkers.ICMPSpec{}
		a = netip.AddrPortFrom(a.Addr(), 0)
	default:
		spec = checkers.TCPSpec{}
	}
	return checkers.Definition{Target: a, Settings: s, Spec: spec}
}

func readTargets(path string, c config) ([]checkers.Definition, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var defs []checkers.Definition
	for i, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 || strings.HasPrefix(f[0], "#") {
			continue
		}
		if len(f) < 2 {
			return nil, fmt.Errorf("%s:%d: want 'KIND ADDRESS[:PORT] [PATH]'", path, i+1)
		}
		var a netip.AddrPort
		if f[0] == "icmp" {
			ip, err := netip.ParseAddr(f[1])
			if err != nil {
				return nil, fmt.Errorf("%s:%d: %w", path, i+1, err)
			}
			a = netip.AddrPortFrom(ip, 0)
		} else if a, err = netip.ParseAddrPort(f[1]); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, i+1, err)
		}
		p := "/"
		if len(f) > 2 {
			p = f[2]
		}
		d := definition(f[0], a, p, c)
		if err := d.Validate(); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, i+1, err)
		}
		defs = append(defs, d)
	}
	return defs, nil
}

type row struct {
	kind       string
	checks     int
	runs       int64
	failed     int64
	cores      float64
	sysFrac    float64
	peerCores  float64
	rssMiB     float64
	heapMiB    float64
	p50, p99   time.Duration
	maxDelay   time.Duration
	killed     int
	verdicts   int
	v50, v99   time.Duration
	vmax       time.Duration
	detect50   time.Duration
	detectMax  time.Duration
	window     time.Duration
	loadBefore string
	loadAfter  string
	floor      time.Duration // CPU per bare connect + reset close
}

func measure(c config, kind string, defs []checkers.Definition, kill func(int) error) (row, error) {
	lat := newHist()
	var measuring atomic.Bool
	var runs, failed atomic.Int64
	var killedAt atomic.Int64 // unix nanos
	var vmu sync.Mutex
	var verdictDelays, detectDelays []time.Duration
	// The servers stopped for the fall test are the first ones; verdicts
	// about others (overload timeouts) are not counted.
	killed := map[string]bool{}
	for i := 0; i < c.kill && i < len(defs); i++ {
		killed[defs[i].ID()] = true
	}

	logger := logrus.New()
	logger.Out = io.Discard
	r := checkers.NewRunner(checkers.Options{
		Log:        logger,
		Resolution: c.res,
		Observe: func(o checkers.Observation) {
			if !measuring.Load() {
				return
			}
			runs.Add(1)
			if !o.Result.OK {
				failed.Add(1)
			}
			lat.add(o.Start.Sub(o.Due))
		},
		Notify: func(v checkers.Verdict) {
			now := time.Now()
			if v.Initial || v.Up || !killed[v.Owner] {
				return
			}
			vmu.Lock()
			verdictDelays = append(verdictDelays, now.Sub(v.Time))
			if k := killedAt.Load(); k > 0 {
				detectDelays = append(detectDelays, now.Sub(time.Unix(0, k)))
			}
			vmu.Unlock()
		},
	})
	regs := make([]checkers.Registration, len(defs))
	for i, d := range defs {
		regs[i] = checkers.Registration{Owner: d.ID(), Check: d}
	}
	if err := r.Update(regs); err != nil {
		return row{}, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	defer func() {
		cancel()
		<-done
	}()

	// Warmup spreads first checks over one interval; measure after it.
	time.Sleep(c.interval + c.interval/2)
	measuring.Store(true)
	loadBefore := loadAvg()
	u0, s0 := cpuSplit()
	cpu0, wall0 := u0+s0, time.Now()
	peer0 := peerCPU(c.peerPid)
	time.Sleep(c.duration)
	u1, s1 := cpuSplit()
	cpu1, wall1 := u1+s1, time.Now()
	peer1 := peerCPU(c.peerPid)
	measuring.Store(false)

	var ru unix.Rusage
	_ = unix.Getrusage(unix.RUSAGE_SELF, &ru)
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	wall := wall1.Sub(wall0)
	out := row{
		kind:       kind,
		checks:     len(defs),
		runs:       runs.Load(),
		failed:     failed.Load(),
		cores:      (cpu1 - cpu0).Seconds() / wall.Seconds(),
		sysFrac:    (s1 - s0).Seconds() / (cpu1 - cpu0).Seconds(),
		rssMiB:     float64(ru.Maxrss) / 1024,
		heapMiB:    float64(ms.HeapInuse) / (1 << 20),
		p50:        lat.quantile(0.50),
		p99:        lat.quantile(0.99),
		window:     wall,
		loadBefore: loadBefore,
		loadAfter:  loadAvg(),
	}
	out.maxDelay = lat.max()
	if c.peerPid > 0 {
		out.peerCores = (peer1 - peer0).Seconds() / wall.Seconds()
	}

	if kill != nil && c.kill > 0 {
		k := min(c.kill, len(defs))
		killedAt.Store(time.Now().UnixNano())
		if err := kill(k); err != nil {
			return out, err
		}
		// Fall is 3: the verdicts come within about three intervals.
		deadline := time.Now().Add(3*c.interval + 2*c.timeout + 5*time.Second)
		for time.Now().Before(deadline) {
			vmu.Lock()
			n := len(verdictDelays)
			vmu.Unlock()
			if n >= k {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		vmu.Lock()
		out.killed = k
		out.verdicts = len(verdictDelays)
		out.v50, out.v99, out.vmax = quantiles(verdictDelays)
		out.detect50, _, out.detectMax = quantiles(detectDelays)
		vmu.Unlock()
	}
	return out, nil
}

// loadAvg is the host's 1-minute load average: the machine may be shared,
// and a loaded host shows in the delays.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	return strings.Fields(string(b))[0]
}

func cpuTime() time.Duration {
	u, s := cpuSplit()
	return u + s
}

// cpuSplit is this process's user and system CPU time so far.
func cpuSplit() (user, sys time.Duration) {
	var ru unix.Rusage
	_ = unix.Getrusage(unix.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano()), time.Duration(ru.Stime.Nano())
}

// peerCPU reads another process's user+system CPU from /proc.
func peerCPU(pid int) time.Duration {
	if pid <= 0 {
		return 0
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	// Fields after the command: state is f[0]; utime and stime are
	// fields 14 and 15 of the whole line, f[11] and f[12] here.
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	const hz = 100 // USER_HZ
	return time.Duration(ut+st) * time.Second / hz
}

func quantiles(ds []time.Duration) (p50, p99, maxv time.Duration) {
	if len(ds) == 0 {
		return 0, 0, 0
	}
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2], s[min(len(s)-1, len(s)*99/100)], s[len(s)-1]
}

func printTable(w io.Writer, c config, rows []row) {
	fmt.Fprintf(w, "checkers benchmark: interval %v, timeout %v, window %v, GOMAXPROCS %d, %d CPUs\n",
		c.interval, c.timeout, c.duration, runtime.GOMAXPROCS(0), runtime.NumCPU())
	for _, r := range rows {
		fmt.Fprintf(w, "%-8s host load average before %s, after %s\n", r.kind, r.loadBefore, r.loadAfter)
	}
	fmt.Fprintf(w, "%-8s %7s %9s %7s %11s %8s %10s %9s %12s %12s %12s\n",
		"kind", "checks", "checks/s", "failed", "cpu", "(kernel)", "peak rss", "heap", "delay p50", "delay p99", "delay max")
	for _, r := range rows {
		fmt.Fprintf(w, "%-8s %7d %9.0f %7d %6.3f core %7.0f%% %6.1f MiB %5.1f MiB %12v %12v %12v\n",
			r.kind, r.checks, float64(r.runs)/r.window.Seconds(), r.failed, r.cores, 100*r.sysFrac, r.rssMiB, r.heapMiB,
			r.p50.Round(time.Microsecond), r.p99.Round(time.Microsecond), r.maxDelay.Round(time.Microsecond))
		if c.peerPid > 0 {
			fmt.Fprintf(w, "%-8s peer pid %d used %.3f core over the same window (ratio peer/lvsd %.2f)\n",
				"", c.peerPid, r.peerCores, r.peerCores/r.cores)
		}
	}
	for _, r := range rows {
		if r.floor > 0 {
			rate := float64(r.runs) / r.window.Seconds()
			fmt.Fprintf(w, "%-8s floor: a bare blocking connect + reset close costs %v of CPU here, %.3f core at %.0f/s (%.0f%% of the checker's)\n",
				r.kind, r.floor.Round(100*time.Nanosecond), r.floor.Seconds()*rate, rate, 100*r.floor.Seconds()*rate/r.cores)
		}
	}
	for _, r := range rows {
		if r.killed == 0 {
			continue
		}
		fmt.Fprintf(w, "%-8s fall-th failed check -> verdict callback (%d of %d servers stopped, fall 3): p50 %v, p99 %v, max %v; stop -> verdict p50 %v, max %v\n",
			r.kind, r.verdicts, r.killed, r.v50.Round(time.Microsecond), r.v99.Round(time.Microsecond), r.vmax.Round(time.Microsecond),
			r.detect50.Round(time.Millisecond), r.detectMax.Round(time.Millisecond))
	}
}

// runServers is the child: it listens on n addresses, prints "ready", and
// on "kill K" from stdin closes the first K listeners (connections to
// them are then refused). It exits when stdin closes.
func runServers(kind string, n, port int) error {
	lns := make([]*serverLn, n)
	for i := range lns {
		a := serverAddr(i, port)
		fd, err := listenFD(a)
		if err != nil {
			return fmt.Errorf("listen %s: %w", a, err)
		}
		lns[i] = &serverLn{fd: fd}
		go lns[i].serve(kind)
	}
	fmt.Println("ready", n)
	sc := bufio.NewScanner(os.Stdin)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 2 && f[0] == "kill" {
			k, _ := strconv.Atoi(f[1])
			for i := 0; i < k && i < n; i++ {
				lns[i].close()
			}
			fmt.Println("killed", k)
		}
	}
	return nil
}

// emit writes the target list and/or a keepalived configuration for the
// servers -serve starts with the same flags, so that lvsd and keepalived
// can check the same servers in the kernel lab (keepalived's checker needs
// IPVS): start the servers with -serve, keepalived with the emitted file,
// and this program with -targets and -peer-pid set to keepalived's checker
// process.
func emit(c config, targets, keepalived string) error {
	kind := c.kinds[0]
	if targets != "" {
		var b strings.Builder
		for i := range c.n {
			a := serverAddr(i, c.port)
			if kind == "icmp" {
				fmt.Fprintf(&b, "icmp %s\n", a.Addr())
			} else {
				fmt.Fprintf(&b, "%s %s\n", kind, a)
			}
		}
		if err := os.WriteFile(targets, []byte(b.String()), 0o644); err != nil {
			return err
		}
	}
	if keepalived != "" {
		secs := func(d time.Duration) string { return strconv.FormatFloat(d.Seconds(), 'f', -1, 64) }
		var b strings.Builder
		// One virtual server per 1000 real servers, on 10.255.x.1:80.
		for i := range c.n {
			if i%1000 == 0 {
				if i > 0 {
					b.WriteString("}\n")
				}
				fmt.Fprintf(&b, "virtual_server 10.255.%d.1 80 {\n  lb_algo rr\n  lb_kind NAT\n  protocol TCP\n  delay_loop %s\n", i/1000, secs(c.interval))
			}
			a := serverAddr(i, c.port)
			check := "TCP_CHECK {\n      connect_timeout " + secs(c.timeout) + "\n      retry 2\n      delay_before_retry " + secs(c.interval) + "\n    }"
			if kind == "http" {
				check = "HTTP_GET {\n      url {\n        path /\n        status_code 200-299\n      }\n      connect_timeout " + secs(c.timeout) + "\n      retry 2\n      delay_before_retry " + secs(c.interval) + "\n    }"
			}
			fmt.Fprintf(&b, "  real_server %s %d {\n    weight 1\n    %s\n  }\n", a.Addr(), a.Port(), check)
		}
		if c.n > 0 {
			b.WriteString("}\n")
		}
		if err := os.WriteFile(keepalived, []byte(b.String()), 0o644); err != nil {
			return err
		}
	}
	return nil
}
