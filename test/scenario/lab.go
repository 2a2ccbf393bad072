package scenario

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"
)

// Options configure a lab.
type Options struct {
	Mode Mode
	// Lvsd is the lvsd binary the directors run.
	Lvsd string
	// Dir holds the configuration, each director's files and logs; "" is
	// a new temporary directory, removed by Close unless Keep.
	Dir  string
	Keep bool
	// Advert is the VRRP advert interval (default 100ms).
	Advert time.Duration
	// CheckInterval is the http check interval (default 500ms), and
	// CheckTimeout its timeout (default the interval).
	CheckInterval, CheckTimeout time.Duration
	// ProbeEvery is the client's request interval (default 20ms).
	ProbeEvery time.Duration
	// StreamEvery is the long-lived keep-alive connections' request
	// interval (default 500ms), DownloadRate the large downloads' rate in
	// bytes/s (default 1 MiB/s).
	StreamEvery  time.Duration
	DownloadRate int64
	// NoSync leaves the connection sync daemon out of the configuration.
	NoSync bool
	// NoPreempt: a returning lb1 stays backup.
	NoPreempt bool
	// StaticVIP runs no VRRP: the VIPs are put on lb1 by hand. Only for
	// looking at the IPVS side alone; every drill and `make lab` run VRRP.
	StaticVIP bool
	// Out receives the progress lines; nil discards them.
	Out io.Writer
	// Quiet leaves the directors' log lines out of Out.
	Quiet bool
}

// Lab is the whole architecture running: the topology, the web servers,
// and lvsd on both directors.
type Lab struct {
	Opt       Options
	Topo      *Topology
	Web       []*WebServer
	Sorry     *WebServer
	Directors []*Director
	// ConfigPath is the configuration both directors run.
	ConfigPath string
	Spec       ConfigSpec

	start  time.Time
	outMu  sync.Mutex
	tmpDir bool
}

// Target is the service the client uses: VIP:80.
func Target() string { return netip.AddrPortFrom(VIP, uint16(VIPPort)).String() }

// New builds the topology, starts the web servers and writes the
// configuration. StartDirectors starts lvsd.
func New(ctx context.Context, opt Options) (l *Lab, err error) {
	if opt.Advert == 0 {
		opt.Advert = 100 * time.Millisecond
	}
	if opt.CheckInterval == 0 {
		opt.CheckInterval = 500 * time.Millisecond
	}
	if opt.CheckTimeout == 0 {
		opt.CheckTimeout = opt.CheckInterval
	}
	if opt.ProbeEvery == 0 {
		opt.ProbeEvery = 20 * time.Millisecond
	}
	if opt.StreamEvery == 0 {
		opt.StreamEvery = 500 * time.Millisecond
	}
	if opt.DownloadRate == 0 {
		opt.DownloadRate = 1 << 20
	}
	if opt.Out == nil {
		opt.Out = io.Discard
	}
	if opt.Lvsd == "" {
		return nil, errors.New("lab: no lvsd binary")
	}
	l = &Lab{Opt: opt, start: time.Now()}
	if opt.Dir == "" {
		if l.Opt.Dir, err = os.MkdirTemp("", "lvsdlab-"); err != nil {
			return nil, err
		}
		l.tmpDir = true
	}
	defer func() {
		if err != nil {
			l.Close()
			l = nil
		}
	}()
	if l.Topo, err = Build(ctx, opt.Mode); err != nil {
		return nil, err
	}
	for _, n := range l.Topo.Servers {
		s, err := NewWebServer(n, fmt.Sprintf("0.0.0.0:%d", VIPPort))
		if err != nil {
			return nil, err
		}
		l.Web = append(l.Web, s)
	}
	if l.Sorry, err = NewWebServer(l.Topo.Sorry, fmt.Sprintf("0.0.0.0:%d", VIPPort)); err != nil {
		return nil, err
	}
	l.Spec = ConfigSpec{
		Mode: opt.Mode, Dir: l.Opt.Dir, VRRP: !opt.StaticVIP, Advert: opt.Advert,
		Preempt: !opt.NoPreempt, Sync: !opt.NoSync, CheckInterval: opt.CheckInterval, CheckTimeout: opt.CheckTimeout,
	}
	l.ConfigPath = filepath.Join(l.Opt.Dir, "lvsd.hcl")
	if err := l.WriteConfig(l.Spec.Render()); err != nil {
		return nil, err
	}
	for _, n := range l.Topo.Directors {
		d, err := NewDirector(n, opt.Lvsd, l.ConfigPath, filepath.Join(l.Opt.Dir, n.Name))
		if err != nil {
			return nil, err
		}
		if !opt.Quiet {
			d.OnLine = l.showLine
		}
		l.Directors = append(l.Directors, d)
	}
	if opt.StaticVIP {
		if err := l.Topo.Directors[0].AddAddr("eth0", netip.PrefixFrom(VIP, FrontNet.Bits())); err != nil {
			return nil, err
		}
		if opt.Mode == NAT {
			if err := l.Topo.Directors[0].AddAddr("eth1", netip.PrefixFrom(BackGW, BackNet.Bits())); err != nil {
				return nil, err
			}
		}
	}
	return l, nil
}

// WriteConfig replaces the configuration file (atomically: a director
// reloading meanwhile reads the old or the new file, never half of one).
func (l *Lab) WriteConfig(text string) error {
	tmp := l.ConfigPath + ".tmp"
	if err := os.WriteFile(tmp, []byte(text), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, l.ConfigPath)
}

// Director returns lb1 or lb2.
func (l *Lab) Director(name string) *Director {
	for _, d := range l.Directors {
		if d.Name == name {
			return d
		}
	}
	return nil
}

// WebServer returns web1, web2, ... or sorry.
func (l *Lab) WebServer(name string) *WebServer {
	if name == "sorry" {
		return l.Sorry
	}
	return servers(l.Web).byName(name)
}

// StartDirectors starts lvsd on both directors at once and waits until
// both have programmed their tables.
func (l *Lab) StartDirectors(within time.Duration) error {
	errs := make([]error, len(l.Directors))
	var wg sync.WaitGroup
	for i, d := range l.Directors {
		wg.Add(1)
		go func() { defer wg.Done(); errs[i] = d.Start(within) }()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// Holders lists the directors that hold the VIP on eth0 now.
func (l *Lab) Holders() []string {
	var out []string
	for _, n := range l.Topo.Directors {
		if ok, err := n.HasAddr("eth0", VIP); err == nil && ok {
			out = append(out, n.Name)
		}
	}
	return out
}

// ReachableHolders is Holders without the directors whose cables are
// pulled (a dead machine keeps the VIP on its interface; nobody sees it).
func (l *Lab) ReachableHolders() []string {
	var out []string
	for _, h := range l.Holders() {
		if !l.Topo.IsCut(h) {
			out = append(out, h)
		}
	}
	return out
}

// States is every director's VRRP state from its state file, with
// "stopped" for a director whose lvsd does not run.
func (l *Lab) States() map[string]string {
	out := map[string]string{}
	for _, d := range l.Directors {
		st, err := d.VRRPState(Instance)
		switch {
		case !d.Running():
			st = "stopped"
		case err != nil:
			st = "error: " + err.Error()
		case st == "":
			st = "unknown"
		}
		out[d.Name] = st
	}
	return out
}

// FormatStates is "lb1 MASTER, lb2 BACKUP".
func (l *Lab) FormatStates() string {
	st := l.States()
	var parts []string
	for _, d := range l.Directors {
		parts = append(parts, d.Name+" "+st[d.Name])
	}
	return strings.Join(parts, ", ")
}

// WaitMaster waits until name is the one master: its state file says
// MASTER, no other director's does (BACKUP, FAULT or not running), and
// name is the only director holding the VIP that anyone can reach. It
// returns when that became true.
func (l *Lab) WaitMaster(name string, within time.Duration) (time.Time, error) {
	deadline := time.Now().Add(within)
	for {
		ok := slices.Equal(l.ReachableHolders(), []string{name})
		if ok && !l.Opt.StaticVIP {
			for d, st := range l.States() {
				if d == name && st != "MASTER" || d != name && st != "BACKUP" && st != "FAULT" && st != "stopped" {
					ok = false
				}
			}
		}
		if ok {
			return time.Now(), nil
		}
		if time.Now().After(deadline) {
			return time.Time{}, fmt.Errorf("%s is not the one master after %v: VIP held by %v (reachable: %v); VRRP states: %s",
				name, within, l.Holders(), l.ReachableHolders(), l.FormatStates())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Logf prints a progress line: the time since the lab started, then the
// text.
func (l *Lab) Logf(format string, args ...any) {
	l.outMu.Lock()
	defer l.outMu.Unlock()
	fmt.Fprintf(l.Opt.Out, "[%6.1fs] %s\n", time.Since(l.start).Seconds(), fmt.Sprintf(format, args...))
}

// Print prints text as it is (a table, a diagram).
func (l *Lab) Print(text string) {
	l.outMu.Lock()
	defer l.outMu.Unlock()
	fmt.Fprint(l.Opt.Out, text)
	if !strings.HasSuffix(text, "\n") {
		fmt.Fprintln(l.Opt.Out)
	}
}

// Indent prefixes every line of text.
func Indent(text, prefix string) string {
	lines := strings.Split(strings.TrimRight(text, "\n"), "\n")
	for i := range lines {
		lines[i] = prefix + lines[i]
	}
	return strings.Join(lines, "\n") + "\n"
}

// showLine prints the directors' log lines a person watching wants to see:
// state changes, not routine.
func (l *Lab) showLine(d *Director, line LogLine) {
	msg := line.Msg()
	lvl := line.Str("level")
	show := lvl == "warning" || lvl == "error" || lvl == "fatal" || lvl == "panic"
	for _, m := range []string{"real server up", "real server down", "virtual server up", "configuration reloaded",
		"IPVS table programmed; running", "lvsd starting", "lvsd stopped"} {
		if msg == m {
			show = true
		}
	}
	if strings.Contains(strings.ToLower(msg), "vrrp") || line.Str("component") == "vrrp" || line.Str("state") != "" {
		show = true
	}
	if !show {
		return
	}
	var fields []string
	for _, k := range []string{"instance", "state", "was", "from", "vs", "rs", "reason", "weight", "writes", "delay", "ops", "error", "at", "summary"} {
		if v := line.Str(k); v != "" {
			fields = append(fields, k+"="+v)
		}
	}
	l.Logf("    %s: %s %s", d.Name, msg, strings.Join(fields, " "))
}

// Close stops everything and removes the namespaces (and the directory,
// if the lab made it and Keep is off).
func (l *Lab) Close() {
	for _, d := range l.Directors {
		d.Close()
	}
	servers(l.Web).killAll()
	if l.Sorry != nil {
		l.Sorry.Kill()
	}
	if l.Topo != nil {
		l.Topo.Close()
	}
	if l.tmpDir && !l.Opt.Keep {
		os.RemoveAll(l.Opt.Dir)
	}
}

// ClientSees names the director whose MAC the client's ARP cache holds for
// the VIP: where its packets to the VIP go ("" if none).
func (l *Lab) ClientSees() string {
	mac, err := l.Topo.Client.Neighbor(VIP)
	if err != nil || mac == nil {
		return ""
	}
	for _, n := range l.Topo.Directors {
		if m, err := n.MAC("eth0"); err == nil && m.String() == mac.String() {
			return n.Name
		}
	}
	return mac.String()
}

// Save is the director's IPVS table in `ipvsadm -Sn` form: the services
// and real servers without counters, for before/after comparisons.
func (d *Director) Save(ctx context.Context) (string, error) {
	return d.Node.Output(ctx, "ipvsadm", "-Sn")
}
