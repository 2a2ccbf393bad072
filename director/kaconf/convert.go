package kaconf

import (
	"fmt"
	"math"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Converted is the result of Convert: lvsd HCL and what did not map.
type Converted struct {
	HCL      []byte
	Warnings []Warning
}

// Convert turns a parsed keepalived configuration into lvsd HCL. It does
// not fail: what cannot be expressed is left out with a warning. The
// output is meant to pass director.ParseConfig; Import checks that.
func Convert(f *File) *Converted {
	c := &conv{
		file:      f,
		root:      newBlock(""),
		scripts:   map[string]*scriptState{},
		instances: map[string]*instState{},
		vsgroups:  map[string]*Node{},
		used:      map[string]map[string]bool{},
		renamed:   map[string]map[string]string{},
		version:   2,
	}
	c.warns = append(c.warns, f.Warnings...)
	c.run()
	return &Converted{HCL: render(c.root), Warnings: sortWarnings(c.warns, f.Files)}
}

// sortWarnings orders warnings as the files were read and by line, and
// drops repeats (a setting shared by the parts of a split
// virtual_server_group warns once).
func sortWarnings(ws []Warning, files []string) []Warning {
	order := map[string]int{}
	for i, f := range files {
		order[f] = i
	}
	var out []Warning
	seen := map[Warning]bool{}
	for _, w := range ws {
		if !seen[w] {
			seen[w] = true
			out = append(out, w)
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i].Pos, out[j].Pos
		if a.File != b.File {
			return order[a.File] < order[b.File]
		}
		return a.Line < b.Line
	})
	return out
}

type conv struct {
	file  *File
	root  *hblock
	warns []Warning

	// global_defs
	globals   globalState
	version   int // vrrp_version: the default VRRP version
	ssl       sslState
	syncd     *Node // lvs_sync_daemon, resolved once instances have names
	syncdFrom string

	scripts   map[string]*scriptState // by keepalived name
	instances map[string]*instState
	groups    []*groupState
	vsgroups  map[string]*Node

	// used are the lvsd names taken, by kind; renamed maps keepalived names
	// to lvsd names where they differ.
	used    map[string]map[string]bool
	renamed map[string]map[string]string
}

func (c *conv) warn(pos Pos, format string, args ...any) {
	c.warns = append(c.warns, Warning{Pos: pos, Msg: fmt.Sprintf(format, args...)})
}

func (c *conv) note(pos Pos, format string, args ...any) {
	c.warns = append(c.warns, Warning{Pos: pos, Msg: fmt.Sprintf(format, args...), Note: true})
}

// ignored warns about a statement lvsd has no equivalent for.
func (c *conv) ignored(n *Node, why string) {
	msg := fmt.Sprintf("%s: no lvsd equivalent; ignored", n.Keyword())
	if why != "" {
		msg += " (" + why + ")"
	}
	c.warn(n.Pos, "%s", msg)
}

// unknown warns about a keyword keepalived 2.2 does not have there either.
func (c *conv) unknown(n *Node, where string) {
	c.warn(n.Pos, "unknown keyword %q in %s (keepalived would reject it too); ignored", n.Keyword(), where)
}

// noBlock warns when a statement that takes no block has one.
func (c *conv) noBlock(n *Node) {
	if n.HasBlock {
		c.warn(n.Pos, "%s takes no { } block; its contents are ignored", n.Keyword())
	}
}

// needBlock reports whether n has a block, warning when not.
func (c *conv) needBlock(n *Node) bool {
	if !n.HasBlock {
		c.warn(n.Pos, "%s needs a { } block; ignored", n.Keyword())
		return false
	}
	return true
}

// from is the comment saying where a block came from.
func from(p Pos) string { return "from " + p.String() }

func (c *conv) run() {
	// keepalived resolves names after reading everything, so collect the
	// statements that others refer to before converting.
	var scripts, instances, groups, servers []*Node
	for _, n := range c.file.Nodes {
		switch n.Keyword() {
		case "global_defs":
			if c.needBlock(n) {
				c.globalDefs(n)
			}
		case "vrrp_script":
			scripts = append(scripts, n)
		case "vrrp_instance":
			instances = append(instances, n)
		case "vrrp_sync_group":
			groups = append(groups, n)
		case "virtual_server_group":
			if n.Arg(0) == "" || !c.needBlock(n) {
				c.warn(n.Pos, "virtual_server_group needs a name and a block; ignored")
				continue
			}
			if prev, dup := c.vsgroups[n.Arg(0)]; dup {
				c.warn(n.Pos, "virtual_server_group %q is already declared at %s; this one is ignored", n.Arg(0), prev.Pos)
				continue
			}
			c.vsgroups[n.Arg(0)] = n
		case "virtual_server":
			servers = append(servers, n)
		case "SSL":
			if c.needBlock(n) {
				c.sslBlock(n)
			}
		default:
			c.topLevel(n)
		}
	}

	blocks := map[*Node][]*hblock{}
	for _, n := range scripts {
		if b := c.vrrpScript(n); b != nil {
			blocks[n] = []*hblock{b}
		}
	}
	c.collectGroups(groups)
	for _, n := range instances {
		if b := c.vrrpInstance(n); b != nil {
			blocks[n] = []*hblock{b}
		}
	}
	for _, g := range c.groups {
		if b := c.syncGroup(g); b != nil {
			blocks[g.node] = []*hblock{b}
		}
	}
	for _, n := range servers {
		blocks[n] = c.virtualServer(n)
	}

	c.header()
	c.emitGlobals()
	for _, n := range c.file.Nodes {
		for _, b := range blocks[n] {
			c.root.add(b)
		}
	}
}

func (c *conv) header() {
	files := c.file.Files
	var lines []string
	if len(files) > 0 {
		lines = append(lines, "Imported from "+files[0]+" by `lvsd import`.")
		if len(files) > 1 {
			lines = append(lines, "Included files: "+strings.Join(files[1:], ", ")+".")
		}
	}
	lines = append(lines,
		"Review every warning the import printed, then check the result with",
		"`lvsd validate -c FILE` and `lvsd plan -c FILE` before running it.")
	c.root.comments = lines
}

// topLevel handles the top-level statements other than the ones run
// collects.
func (c *conv) topLevel(n *Node) {
	switch n.Keyword() {
	case "static_ipaddress", "static_routes", "static_rules", "track_group":
		c.ignored(n, "lvsd manages only the VRRP instances' virtual addresses; configure static addresses, routes and rules with the system's network configuration")
	case "linkbeat_interfaces", "interface_up_down_delays":
		c.ignored(n, "lvsd follows the kernel's link state (netlink) without polling or debouncing")
	case "garp_group":
		c.ignored(n, "per-interface gratuitous ARP pacing; lvsd has one interval per instance (gratuitous_arp { interval })")
	case "bfd_instance":
		c.ignored(n, "lvsd has no BFD")
	case "track_file", "vrrp_track_file":
		c.ignored(n, "lvsd has no tracked files; a vrrp_script that reads the file is the closest")
	case "vrrp_track_process":
		c.ignored(n, "lvsd has no process tracking; a vrrp_script running `pidof` or `systemctl is-active` is the closest")
	case "net_namespace", "net_namespace_ipvs", "namespace_with_ipsets":
		c.ignored(n, "run lvsd itself in the namespace (ip netns exec, or the systemd unit's NetworksNamespacePath=)")
	case "instance", "use_pid_dir", "child_wait_time", "linkbeat_use_polling":
		c.ignored(n, "process setting")
	default:
		c.unknown(n, "the top level")
	}
}

// ---- names ----

var nameInvalid = regexp.MustCompile(`[^A-Za-z0-9_.-]`)

// lvsdName turns a keepalived name into one lvsd accepts for kind, unique
// among that kind, remembers the mapping, and notes a change.
func (c *conv) lvsdName(kind, orig string, pos Pos) string {
	n := c.uniqueName(kind, orig)
	if n != orig {
		c.note(pos, "%s %q is named %q in lvsd (names are 1-64 letters, digits, '_', '.', '-', unique)", kind, orig, n)
	}
	return n
}

// uniqueName is lvsdName without the note, for names the import makes up.
func (c *conv) uniqueName(kind, orig string) string {
	n := nameInvalid.ReplaceAllString(orig, "_")
	if n == "" || n[0] == '.' || n[0] == '-' {
		n = "_" + n
	}
	if len(n) > 64 {
		n = n[:64]
	}
	if c.used[kind] == nil {
		c.used[kind] = map[string]bool{}
		c.renamed[kind] = map[string]string{}
	}
	base := n
	for i := 2; c.used[kind][n]; i++ {
		suffix := "-" + strconv.Itoa(i)
		n = base
		if len(n)+len(suffix) > 64 {
			n = n[:64-len(suffix)]
		}
		n += suffix
	}
	c.used[kind][n] = true
	c.renamed[kind][orig] = n
	return n
}

// nameOf returns the lvsd name of a keepalived name of kind.
func (c *conv) nameOf(kind, orig string) (string, bool) {
	n, ok := c.renamed[kind][orig]
	return n, ok
}

// ---- values ----

// uintArg reads argument i of n as an integer in [min, max]. A bad value
// is warned about (keepalived ignores such a statement too).
func (c *conv) uintArg(n *Node, i int, min, max int64) (int64, bool) {
	s := n.Arg(i)
	if s == "" {
		c.warn(n.Pos, "%s needs a value; ignored", n.Keyword())
		return 0, false
	}
	v, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil || v < min || v > max {
		c.warn(n.Pos, "%s %s: not a whole number in [%d, %d]; ignored (keepalived ignores it too)", n.Keyword(), s, min, max)
		return 0, false
	}
	return v, true
}

// timerArg reads argument i of n as keepalived's <TIMER>: seconds, with a
// fraction, to the microsecond.
func (c *conv) timerArg(n *Node, i int, max time.Duration) (time.Duration, bool) {
	s := n.Arg(i)
	if s == "" {
		c.warn(n.Pos, "%s needs a value; ignored", n.Keyword())
		return 0, false
	}
	d, ok := parseTimer(s)
	if !ok || d > max {
		c.warn(n.Pos, "%s %s: not a time in seconds up to %s; ignored (keepalived ignores it too)", n.Keyword(), s, fmtDuration(max))
		return 0, false
	}
	return d, true
}

func parseTimer(s string) (time.Duration, bool) {
	f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil || f < 0 || math.IsNaN(f) || math.IsInf(f, 0) || f > float64(math.MaxInt64/int64(time.Second)) {
		return 0, false
	}
	return time.Duration(math.Round(f*1e6)) * time.Microsecond, true
}

// boolArg reads an optional <BOOL> argument: none is true.
func (c *conv) boolArg(n *Node, i int) (bool, bool) {
	s := n.Arg(i)
	switch s {
	case "", "on", "true", "yes":
		return true, true
	case "off", "false", "no":
		return false, true
	}
	c.warn(n.Pos, "%s %s: not on|off|true|false|yes|no; ignored", n.Keyword(), s)
	return false, false
}

// relPath makes a relative path from the configuration absolute, as
// keepalived resolves it against the directory of the file it is in.
func relPath(p string, pos Pos) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	abs, err := filepath.Abs(filepath.Join(filepath.Dir(pos.File), p))
	if err != nil {
		return p
	}
	return abs
}

// command converts a keepalived script statement to an lvsd argv. A shell
// command line, which keepalived 2 cannot run (it runs scripts without a
// shell), becomes sh -c with a warning.
func (c *conv) command(n *Node) (script, bool) {
	s, err := scriptOf(n)
	if err != nil {
		c.warn(n.Pos, "%s: %v; ignored", n.Keyword(), err)
		return s, false
	}
	if shellMeta(s.argv) {
		line := strings.Join(s.argv, " ")
		c.warn(n.Pos, "%s %q looks like a shell command line; keepalived 2 runs scripts without a shell (1.x ran them with sh), lvsd too: imported as [\"/bin/sh\", \"-c\", ...] — check it does what was meant", n.Keyword(), line)
		s.argv = []string{"/bin/sh", "-c", line}
	}
	return s, true
}
