package director

import (
	"io/fs"
	"math"
	"net/netip"
	"path"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
)

// Defaults; docs/config.md lists them and must change with them.
const (
	DefaultControlSocket  = "/run/lvsd/lvsd.sock"
	DefaultControlMode    = fs.FileMode(0o600)
	DefaultMetricsListen  = "127.0.0.1:9587"
	DefaultMetricsPath    = "/metrics"
	DefaultResyncInterval = 10 * time.Second
	DefaultScheduler      = "wlc"
	DefaultDrainTimeout   = 60 * time.Second
	DefaultWeight         = 1
	DefaultQuorum         = 1
	DefaultCheckInterval  = 5 * time.Second
	DefaultCheckTimeout   = 2 * time.Second // capped at the interval
	DefaultRise           = 2
	DefaultFall           = 3
	DefaultHookTimeout    = 30 * time.Second
	DefaultMaxBodyBytes   = 1 << 20
	DefaultPriority       = 100
	DefaultVRRPVersion    = 3
	DefaultAdvertInterval = time.Second
)

// maxPersistence is the largest persistence timeout the kernel can hold:
// it keeps it in jiffies in an unsigned int, and HZ is at most 1000.
const maxPersistence = math.MaxUint32 / 1000 * time.Second

var nameRE = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$`)
var rsNameRE = regexp.MustCompile(`^[A-Za-z0-9_\[][A-Za-z0-9_.:\[\]-]{0,63}$`)

// checkName validates a block label used as a name in logs, metrics and
// CLI commands.
func (d *decoder) checkName(what, name string, rng hcl.Range) bool {
	if nameRE.MatchString(name) {
		return true
	}
	d.errAt(rng, "Invalid name", "%s name %q: use 1 to 64 letters, digits, '_', '.' and '-', not starting with '.' or '-'.", what, name)
	return false
}

func (d *decoder) decodeRoot(raw *rawRoot) *Config {
	cfg := &Config{
		Logging: Logging{Level: "info", Format: "text"},
		Control: Control{Socket: DefaultControlSocket, Mode: DefaultControlMode},
		IPVS:    IPVSSettings{ResyncInterval: DefaultResyncInterval},
	}
	if s, ok := d.str(raw.NodeName); ok {
		if nameRE.MatchString(s) {
			cfg.NodeName = s
		} else {
			d.errAttr(raw.NodeName, "Invalid name", "node_name %q: use 1 to 64 letters, digits, '_', '.' and '-'.", s)
		}
	}
	d.decodeLogging(single(d, raw.Logging, "logging"), &cfg.Logging)
	d.decodeControl(single(d, raw.Control, "control"), &cfg.Control)
	d.decodeMetrics(single(d, raw.Metrics, "metrics"), &cfg.Metrics)

	garp := GratuitousARP{Count: 5, SecondBurstDelay: 5 * time.Second, RefreshCount: 1}
	if rv := single(d, raw.VRRP, "vrrp"); rv != nil {
		if s, ok := d.str(rv.StateFile); ok {
			if d.absPath(rv.StateFile, s) {
				cfg.VRRP.StateFile = s
			}
		}
		d.decodeGARP(single(d, rv.GratuitousARP, "gratuitous_arp"), &garp)
	}

	vsNames := map[string]hcl.Range{}
	for _, r := range raw.VirtualServers {
		if !d.checkName("virtual_server", r.Name, r.LabelRange) {
			continue
		}
		if prev, dup := vsNames[r.Name]; dup {
			d.errAt(r.LabelRange, "Duplicate virtual server name", "virtual_server %q is already declared at %s.", r.Name, posString(prev))
			continue
		}
		vsNames[r.Name] = r.LabelRange
		if vs := d.decodeVirtualServer(r); vs != nil {
			cfg.VirtualServers = append(cfg.VirtualServers, vs)
		}
	}
	d.checkServiceKeys(cfg)

	scriptNames := map[string]hcl.Range{}
	for _, r := range raw.VRRPScripts {
		if !d.checkName("vrrp_script", r.Name, r.LabelRange) {
			continue
		}
		if prev, dup := scriptNames[r.Name]; dup {
			d.errAt(r.LabelRange, "Duplicate vrrp_script", "vrrp_script %q is already declared at %s.", r.Name, posString(prev))
			continue
		}
		scriptNames[r.Name] = r.LabelRange
		cfg.VRRPScripts = append(cfg.VRRPScripts, d.decodeVRRPScript(r))
	}

	viNames := map[string]hcl.Range{}
	for _, r := range raw.VRRPInstances {
		if !d.checkName("vrrp_instance", r.Name, r.LabelRange) {
			continue
		}
		if prev, dup := viNames[r.Name]; dup {
			d.errAt(r.LabelRange, "Duplicate vrrp_instance", "vrrp_instance %q is already declared at %s.", r.Name, posString(prev))
			continue
		}
		viNames[r.Name] = r.LabelRange
		if vi := d.decodeVRRPInstance(r, cfg, garp); vi != nil {
			cfg.VRRPInstances = append(cfg.VRRPInstances, vi)
		}
	}
	d.checkVRRPInstances(cfg, raw)
	d.decodeSyncGroups(raw.SyncGroups, cfg)
	d.checkUnusedScripts(cfg, raw)
	d.checkGroupWeights(cfg, raw)
	d.decodeIPVS(single(d, raw.IPVS, "ipvs"), cfg)
	d.checkVIPsHeld(cfg, raw)
	return cfg
}

func (d *decoder) decodeLogging(r *rawLogging, l *Logging) {
	if r == nil {
		return
	}
	if s, ok := d.str(r.Level); ok {
		if s == "warning" {
			s = "warn"
		}
		if v, ok := d.oneOf(r.Level, s, "trace", "debug", "info", "warn", "error"); ok {
			l.Level = v
		}
	}
	if s, ok := d.str(r.Format); ok {
		if v, ok := d.oneOf(r.Format, s, "text", "json"); ok {
			l.Format = v
		}
	}
}

func (d *decoder) absPath(a *hcl.Attribute, s string) bool {
	if !path.IsAbs(s) || strings.ContainsRune(s, 0) {
		d.errAttr(a, "Invalid path", "%s must be an absolute path, not %q.", a.Name, s)
		return false
	}
	return true
}

func (d *decoder) decodeControl(r *rawControl, c *Control) {
	if r == nil {
		return
	}
	if s, ok := d.str(r.Socket); ok && d.absPath(r.Socket, s) {
		c.Socket = s
	}
	if s, ok := d.str(r.Mode); ok {
		m, err := strconv.ParseUint(strings.TrimPrefix(s, "0o"), 8, 32)
		switch {
		case err != nil:
			d.errAttr(r.Mode, "Invalid mode", "mode must be octal permissions as a string, e.g. \"0660\", not %q.", s)
		case m > 0o777:
			d.errAttr(r.Mode, "Invalid mode", "mode %q has bits beyond 0777.", s)
		case m&0o600 != 0o600:
			d.errAttr(r.Mode, "Invalid mode", "mode %q does not let lvsd's own user read and write its socket (want at least 0600).", s)
		default:
			c.Mode = fs.FileMode(m)
			if m&0o002 != 0 {
				d.warnAttr(r.Mode, "World-writable control socket", "mode %q lets every local user reload lvsd and drain real servers.", s)
			}
		}
	}
	if s, ok := d.str(r.Listen); ok && s != "" {
		ap, err := netip.ParseAddrPort(s)
		if err != nil {
			d.errAttr(r.Listen, "Invalid address", "listen must be address:port (e.g. \"127.0.0.1:9588\" or \"[::1]:9588\"), not %q.", s)
			return
		}
		c.Listen = ap
		if !ap.Addr().IsLoopback() {
			d.warnAttr(r.Listen, "Control API on the network", "The read-only control API on %s has no authentication: anyone who reaches it sees the whole state.", s)
		}
	}
}

func (d *decoder) decodeMetrics(r *rawMetrics, m *Metrics) {
	if r == nil {
		return
	}
	m.Listen = netip.MustParseAddrPort(DefaultMetricsListen)
	m.Path = DefaultMetricsPath
	if s, ok := d.str(r.Listen); ok {
		if s == "" {
			m.Listen = netip.AddrPort{}
		} else if ap, err := netip.ParseAddrPort(s); err != nil {
			d.errAttr(r.Listen, "Invalid address", "listen must be address:port (e.g. \"127.0.0.1:9587\" or \"[::]:9587\"), not %q.", s)
		} else {
			m.Listen = ap
		}
	}
	if s, ok := d.str(r.Path); ok {
		if !strings.HasPrefix(s, "/") || strings.ContainsAny(s, " ?#") {
			d.errAttr(r.Path, "Invalid path", "path must be a URL path starting with /, not %q.", s)
		} else {
			m.Path = s
		}
	}
}

func (d *decoder) decodeIPVS(r *rawIPVS, cfg *Config) {
	if r == nil {
		return
	}
	s := &cfg.IPVS
	if v, ok := d.duration(r.ResyncInterval, time.Second, time.Hour); ok {
		s.ResyncInterval = v
	}
	if v, ok := d.boolean(r.RemoveOnStop); ok {
		s.RemoveOnStop = v
	}
	if t := single(d, r.Timeouts, "timeouts"); t != nil {
		s.Timeouts = &IPVSTimeouts{}
		for _, x := range []struct {
			a   *hcl.Attribute
			dst *time.Duration
		}{{t.TCP, &s.Timeouts.TCP}, {t.TCPFin, &s.Timeouts.TCPFin}, {t.UDP, &s.Timeouts.UDP}} {
			if v, ok := d.duration(x.a, time.Second, maxPersistence); ok {
				if v%time.Second != 0 {
					d.errAttr(x.a, "Invalid duration", "%s must be whole seconds: the kernel counts IPVS timeouts in seconds.", x.a.Name)
					continue
				}
				*x.dst = v
			}
		}
	}
	if sd := single(d, r.SyncDaemon, "sync_daemon"); sd != nil {
		s.SyncDaemon = d.decodeSyncDaemon(sd, cfg)
	}
}

var ifaceRE = regexp.MustCompile(`^[^/\s:]{1,15}$`)

// iface validates a network interface name as the kernel would.
func (d *decoder) iface(a *hcl.Attribute) (string, bool) {
	s, ok := d.str(a)
	if !ok {
		return "", false
	}
	if !ifaceRE.MatchString(s) || s == "." || s == ".." {
		d.errAttr(a, "Invalid interface name", "%q is not an interface name (1 to 15 characters, no '/', ':' or spaces).", s)
		return "", false
	}
	return s, true
}

func (d *decoder) decodeSyncDaemon(r *rawSyncDaemon, cfg *Config) *SyncDaemon {
	sd := &SyncDaemon{}
	if !d.missing(r.Interface, "interface", r.DefRange) {
		sd.Interface, _ = d.iface(r.Interface)
	}
	var vi *VRRPInstance
	if s, ok := d.str(r.VRRPInstance); ok {
		vi = cfg.VRRPInstance(s)
		if vi == nil {
			d.errAttr(r.VRRPInstance, "Unknown vrrp_instance", "No vrrp_instance %q is declared.", s)
		}
		sd.VRRPInstance = s
		sd.Role = SyncFollow
	}
	if s, ok := d.str(r.Role); ok {
		if v, ok := d.oneOf(r.Role, s, "follow", "master", "backup", "both"); ok {
			switch {
			case v == "follow" && sd.VRRPInstance == "":
				d.errAttr(r.Role, "Missing vrrp_instance", "role \"follow\" follows a VRRP instance: set vrrp_instance.")
			case v != "follow" && sd.VRRPInstance != "":
				d.errAttr(r.Role, "Conflicting sync daemon role", "role %q is static, but vrrp_instance makes the daemon follow %q: set one or the other.", v, sd.VRRPInstance)
			}
			sd.Role = SyncRole(v)
		}
	} else if sd.VRRPInstance == "" {
		d.errAt(r.DefRange, "Missing sync daemon role", "Set vrrp_instance (run the master daemon while that instance is MASTER, the backup daemon otherwise) or role (\"master\", \"backup\" or \"both\").")
	}
	if v, ok := d.integer(r.SyncID, 0, 255); ok {
		sd.SyncID = uint8(v)
	} else if vi != nil {
		sd.SyncID = vi.VRID
	}
	if v, ok := d.integer(r.Port, 1, 65535); ok {
		sd.Port = uint16(v)
	}
	if v, ok := d.integer(r.TTL, 1, 255); ok {
		sd.TTL = uint8(v)
	}
	if ip, ok := d.addr(r.Group); ok {
		if !ip.IsMulticast() {
			d.errAttr(r.Group, "Invalid multicast group", "group %s is not a multicast address.", ip)
		} else {
			sd.Group = ip
		}
	}
	if v, ok := d.integer(r.MaxLen, 1, 65507); ok {
		sd.MaxLen = uint16(v)
	}
	return sd
}

func (d *decoder) decodeGARP(r *rawGARP, g *GratuitousARP) {
	if r == nil {
		return
	}
	if v, ok := d.integer(r.Count, 1, 100); ok {
		g.Count = int(v)
	}
	if v, ok := d.duration(r.Interval, 0, 10*time.Second); ok {
		g.Interval = v
	}
	if v, ok := d.duration(r.SecondBurstDelay, 0, time.Hour); ok {
		g.SecondBurstDelay = v
	}
	if v, ok := d.duration(r.RefreshInterval, 0, 24*time.Hour); ok {
		if v != 0 && v < time.Second {
			d.errAttr(r.RefreshInterval, "Duration out of range", "refresh_interval must be 0s (off) or at least 1s.")
		} else {
			g.RefreshInterval = v
		}
	}
	if v, ok := d.integer(r.RefreshCount, 1, 100); ok {
		g.RefreshCount = int(v)
	}
}

// decodeHooks decodes notify blocks whose event label is one of events.
func (d *decoder) decodeHooks(rs []*rawNotify, events ...string) map[string]*Hook {
	out := map[string]*Hook{}
	seen := map[string]hcl.Range{}
	for _, r := range rs {
		ev := r.Event
		ok := false
		for _, e := range events {
			ok = ok || e == ev
		}
		if !ok {
			d.errAt(r.LabelRange, "Unknown notify event", "notify %q: here the events are %s.%s", ev, quoteList(events), suggest(ev, events))
			continue
		}
		if prev, dup := seen[ev]; dup {
			d.errAt(r.LabelRange, "Duplicate notify block", "notify %q is already declared at %s.", ev, posString(prev))
			continue
		}
		seen[ev] = r.LabelRange
		h := &Hook{Timeout: DefaultHookTimeout, DefRange: r.DefRange}
		if !d.missing(r.Command, "command", r.DefRange) {
			h.Command, _ = d.command(r.Command)
		}
		if v, ok := d.duration(r.Timeout, 100*time.Millisecond, time.Hour); ok {
			h.Timeout = v
		}
		out[ev] = h
	}
	return out
}

// command evaluates an argv list: a program and its arguments, run
// without a shell.
func (d *decoder) command(a *hcl.Attribute) ([]string, bool) {
	argv, _, ok := d.strList(a)
	if !d.required(a, ok) {
		return nil, false
	}
	if len(argv) == 0 || strings.TrimSpace(argv[0]) == "" {
		d.errAttr(a, "Invalid command", "%s needs a program: a list like [\"/usr/local/bin/check\", \"arg\"] (run without a shell).", a.Name)
		return nil, false
	}
	if len(argv) == 1 && strings.ContainsAny(argv[0], " \t") {
		d.warnAttr(a, "Command looks like a shell line", "%q is run as one program name, without a shell; write each argument as its own list element.", argv[0])
	}
	return argv, true
}
