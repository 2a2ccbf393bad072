package director

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io/fs"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"

	"github.com/lvsd/lvsd/ipvs"
)

// Config is a decoded and validated lvsd configuration: the effective
// settings after variables, locals, expressions and dynamic blocks were
// evaluated and every default was applied. It is plain data; the Director
// maps it onto the ipvs, checkers and vrrp packages. docs/config.md is the
// reference for every field.
//
// A Config returned without error diagnostics is internally consistent: no
// duplicate services or names, every reference (tracked script, tracked
// virtual server, sync group member, sync daemon instance) resolves, every
// address family matches.
type Config struct {
	// NodeName names this director in logs, hooks and metrics
	// (keepalived's router_id). Defaults to the host name at load time.
	NodeName string

	Logging Logging
	Control Control
	Metrics Metrics
	IPVS    IPVSSettings
	VRRP    VRRPSettings

	// VirtualServers in declaration order (files in name order, blocks in
	// file order).
	VirtualServers []*VirtualServer
	VRRPScripts    []*VRRPScript
	VRRPInstances  []*VRRPInstance
	SyncGroups     []*SyncGroup

	// Files are the files the configuration was read from, in the order
	// they were read. Not part of the hash.
	Files []string `json:"-"`
}

// Logging is the `logging` block.
type Logging struct {
	Level  string // trace, debug, info, warn, error (logrus level names)
	Format string // text or json
}

// Control is the `control` block: the JSON/HTTP control API.
type Control struct {
	Socket string      // unix socket path
	Mode   fs.FileMode // socket permissions
	// Listen is an optional TCP address serving the read-only part of the
	// API. The zero value means off.
	Listen netip.AddrPort
}

// Metrics is the `metrics` block: the Prometheus endpoint. The zero Listen
// means metrics are off (no `metrics` block).
type Metrics struct {
	Listen netip.AddrPort
	Path   string
}

// IPVSSettings is the `ipvs` block: how the daemon keeps the kernel table.
type IPVSSettings struct {
	// ResyncInterval is how often the kernel table is dumped and repaired
	// even without an event.
	ResyncInterval time.Duration
	// RemoveOnStop deletes the services lvsd owns when the daemon stops.
	// Off by default so that a restart is hitless.
	RemoveOnStop bool
	// Timeouts are the kernel's connection timeouts (ipvsadm --set); nil
	// leaves the kernel's values alone.
	Timeouts *IPVSTimeouts `json:",omitempty"`
	// SyncDaemon is the kernel's connection synchronisation daemon; nil
	// when not configured.
	SyncDaemon *SyncDaemon `json:",omitempty"`
}

// IPVSTimeouts are the kernel's IPVS connection timeouts. A zero field
// leaves that timeout unchanged.
type IPVSTimeouts struct {
	TCP    time.Duration
	TCPFin time.Duration
	UDP    time.Duration
}

// SyncRole is what a connection sync daemon does.
type SyncRole string

const (
	// SyncFollow runs the master daemon while VRRPInstance is MASTER and
	// the backup daemon otherwise.
	SyncFollow SyncRole = "follow"
	SyncMaster SyncRole = "master"
	SyncBackup SyncRole = "backup"
	// SyncBoth runs both daemons at once (active-active directors).
	SyncBoth SyncRole = "both"
)

// SyncDaemon is the `ipvs { sync_daemon { } }` block (keepalived's
// lvs_sync_daemon).
type SyncDaemon struct {
	Interface string
	Role      SyncRole
	// VRRPInstance is the instance followed when Role is SyncFollow.
	VRRPInstance string
	SyncID       uint8
	// Zero values below mean the kernel's default.
	Port   uint16
	TTL    uint8
	Group  netip.Addr
	MaxLen uint16
}

// VRRPSettings is the global `vrrp` block.
type VRRPSettings struct {
	// StateFile, when set, always holds the current state of every
	// instance and sync group (rewritten atomically on each transition).
	StateFile string
}

// VirtualServer is a `virtual_server` block: one or several kernel
// services (addresses, or a firewall mark) sharing one set of real servers,
// settings and checks.
type VirtualServer struct {
	// Name is the block label; unique in the configuration. It names the
	// virtual server in logs, metrics, hooks and CLI commands.
	Name string
	// Services are the kernel services this block declares: one per
	// address, or the single firewall-mark service. They all share Family.
	Services []ipvs.ServiceKey
	Family   ipvs.Family

	Scheduler   string
	SchedFlags  ipvs.SchedFlags
	Forward     ipvs.Forward // default for the real servers
	Persistence *Persistence `json:",omitempty"`
	OnePacket   bool

	// DrainTimeout bounds how long a removed or failed real server stays at
	// weight 0 waiting for its connections to end before it is deleted.
	// Zero deletes at once.
	DrainTimeout time.Duration
	// Quorum is the minimum sum of the weights of the real servers that
	// are up for the virtual server to be up; it comes back up at
	// Quorum + Hysteresis.
	Quorum     uint32
	Hysteresis uint32
	// InhibitOnFailure is the default for the real servers.
	InhibitOnFailure bool

	SorryServer *SorryServer `json:",omitempty"`
	// Checks are the default checks of the real servers (as declared;
	// each RealServer carries its effective, resolved copy).
	Checks      []Check
	RealServers []*RealServer

	NotifyQuorumUp   *Hook `json:",omitempty"`
	NotifyQuorumDown *Hook `json:",omitempty"`

	DefRange hcl.Range `json:"-"`
}

// Persistence is a virtual server's `persistence` block.
type Persistence struct {
	Timeout time.Duration // whole seconds, at least 1s
	// PrefixLen is the client netmask as a prefix length (1..32 for IPv4,
	// 1..128 for IPv6). It is the full length unless a netmask was given.
	PrefixLen int
}

// IPVSService is the kernel service for one of the virtual server's keys.
func (vs *VirtualServer) IPVSService(key ipvs.ServiceKey) ipvs.Service {
	s := ipvs.Service{
		ServiceKey: key,
		Scheduler:  vs.Scheduler,
		SchedFlags: vs.SchedFlags,
		OnePacket:  vs.OnePacket,
	}
	if p := vs.Persistence; p != nil {
		s.Persistence = uint32(p.Timeout / time.Second)
		s.PersistenceMask = p.PrefixLen
	}
	return s
}

// RealServer is a `real_server` block with every inherited setting
// resolved.
type RealServer struct {
	// Name is unique within its virtual server: the `name` attribute, or
	// the address as written ("10.0.1.1:8080", "10.0.1.1",
	// "[2001:db8::1]:80").
	Name string
	// ID is "<virtual server>/<real server>", unique in the configuration:
	// what `lvsd drain` takes.
	ID   string
	Addr netip.Addr
	// Port is the destination port. Zero means "the virtual service's port"
	// (for a firewall-mark service: the client's destination port, left
	// unchanged).
	Port uint16

	Weight         uint32
	Forward        ipvs.Forward
	UpperThreshold uint32
	LowerThreshold uint32
	// InhibitOnFailure keeps a failed server in the table at weight 0
	// instead of draining and deleting it.
	InhibitOnFailure bool

	// Checks are the effective checks: the real server's own, or else the
	// virtual server's defaults, with Target resolved. Empty (or one check
	// of kind "none") means the server is always up.
	Checks []Check
	// ChecksInherited is true when Checks came from the virtual server.
	ChecksInherited bool

	NotifyUp   *Hook `json:",omitempty"`
	NotifyDown *Hook `json:",omitempty"`

	DefRange hcl.Range `json:"-"`
}

// Destination is the kernel destination of this real server under service
// key (its port resolved against the service's).
func (rs *RealServer) Destination(key ipvs.ServiceKey) ipvs.Destination {
	return ipvs.Destination{
		Addr:           netip.AddrPortFrom(rs.Addr, rs.portFor(key)),
		Forward:        rs.Forward,
		Weight:         rs.Weight,
		UpperThreshold: rs.UpperThreshold,
		LowerThreshold: rs.LowerThreshold,
	}
}

func (rs *RealServer) portFor(key ipvs.ServiceKey) uint16 {
	if rs.Port != 0 || key.FWMark != 0 {
		return rs.Port
	}
	return key.Addr.Port()
}

// SorryServer is the `sorry_server` block: a destination used only while
// the virtual server is below quorum.
type SorryServer struct {
	Addr    netip.Addr
	Port    uint16 // as RealServer.Port
	Forward ipvs.Forward
	// Inhibit keeps the sorry server in the table at weight 0 while unused
	// (keepalived's sorry_server_inhibit).
	Inhibit bool

	DefRange hcl.Range `json:"-"`
}

// Destination is the sorry server's destination under service key, at
// weight 1.
func (s *SorryServer) Destination(key ipvs.ServiceKey) ipvs.Destination {
	port := s.Port
	if port == 0 && key.FWMark == 0 {
		port = key.Addr.Port()
	}
	return ipvs.Destination{Addr: netip.AddrPortFrom(s.Addr, port), Forward: s.Forward, Weight: 1}
}

// CheckKind names a kind of health check.
type CheckKind string

const (
	CheckICMP  CheckKind = "icmp"
	CheckTCP   CheckKind = "tcp"
	CheckHTTP  CheckKind = "http"
	CheckHTTPS CheckKind = "https"
	CheckExec  CheckKind = "exec"
	CheckDNS   CheckKind = "dns"
	CheckUDP   CheckKind = "udp"
	// CheckNone declares a real server always up, exempting it from the
	// virtual server's default checks.
	CheckNone CheckKind = "none"
)

// CheckKinds lists every check kind, for messages and documentation.
var CheckKinds = []CheckKind{CheckICMP, CheckTCP, CheckHTTP, CheckHTTPS, CheckExec, CheckDNS, CheckUDP, CheckNone}

// Check is a `check "<kind>"` block. Exactly one of the kind-specific
// pointers is set for tcp, http/https, exec, dns and udp; icmp and none
// have no kind settings.
type Check struct {
	Kind     CheckKind
	Interval time.Duration
	// RetryInterval replaces Interval while a verdict is in doubt: after a
	// failure while up, or a success while down (keepalived's
	// delay_before_retry). Equal to Interval unless set.
	RetryInterval time.Duration
	Timeout       time.Duration
	// Warmup spreads the first run of the check uniformly over [0, Warmup).
	Warmup time.Duration
	Rise   int
	Fall   int
	// StartDown starts the real server down until Rise successes
	// (keepalived's alpha). Otherwise it starts up.
	StartDown bool

	SourceAddress   netip.Addr
	SourceInterface string
	// Address and Port override the target as declared (zero: the real
	// server's).
	Address netip.Addr
	Port    uint16
	// Target is what the check probes, resolved on a real server's
	// checks; zero on a virtual server's default checks. Its port is zero
	// for icmp.
	Target netip.AddrPort

	TCP  *TCPCheck  `json:",omitempty"`
	HTTP *HTTPCheck `json:",omitempty"`
	Exec *ExecCheck `json:",omitempty"`
	DNS  *DNSCheck  `json:",omitempty"`
	UDP  *UDPCheck  `json:",omitempty"`

	DefRange hcl.Range `json:"-"`
}

// Key identifies a check by everything that affects its verdict,
// including its resolved target: two real servers (of the same or different
// virtual servers) whose checks have equal keys can share one running
// check.
func (c Check) Key() string {
	b, _ := json.Marshal(c) // only plain data: cannot fail
	sum := sha256.Sum256(b)
	return string(c.Kind) + ":" + hex.EncodeToString(sum[:12])
}

// TCPCheck holds a tcp check's settings. Without Send and Expect, a
// completed connect is success.
type TCPCheck struct {
	Send   []byte `json:",omitempty"`
	Expect string `json:",omitempty"` // regexp (RE2) the reply must match
}

// HTTPCheck holds an http or https check's settings.
type HTTPCheck struct {
	Method       string // GET or HEAD
	Path         string
	Host         string            `json:",omitempty"`
	Headers      map[string]string `json:",omitempty"`
	Status       []StatusRange
	BodyRegex    string `json:",omitempty"`
	BodyMD5      string `json:",omitempty"` // lower-case hex
	MaxBodyBytes int64
	// KeepAlive reuses one connection between checks; otherwise each
	// check opens a fresh connection.
	KeepAlive bool
	TLS       *TLSSettings `json:",omitempty"` // https only
}

// StatusRange is an inclusive range of HTTP status codes.
type StatusRange struct{ Min, Max int }

// Contains reports whether code is in r.
func (r StatusRange) Contains(code int) bool { return code >= r.Min && code <= r.Max }

// TLSSettings are an https check's TLS settings.
type TLSSettings struct {
	ServerName string `json:",omitempty"` // SNI and name verified
	Verify     bool
	CAFile     string `json:",omitempty"`
	CertFile   string `json:",omitempty"`
	KeyFile    string `json:",omitempty"`
}

// ExecCheck holds an exec check's settings (keepalived's MISC_CHECK).
type ExecCheck struct {
	Command []string
	User    string            `json:",omitempty"`
	Env     map[string]string `json:",omitempty"`
	// DynamicWeight: exit codes 2..255 set the weight to code-2.
	DynamicWeight bool
}

// DNSCheck holds a dns check's settings.
type DNSCheck struct {
	Name      string // fully qualified query name
	Type      string // A, AAAA, ...
	Transport string // udp or tcp
	// Expect lists addresses that must all be in the answer.
	Expect []netip.Addr `json:",omitempty"`
}

// UDPCheck holds a udp check's settings. Without Expect the check passes
// when no ICMP error comes back within the timeout.
type UDPCheck struct {
	Send   []byte `json:",omitempty"`
	Expect string `json:",omitempty"`
}

// Hook is a `notify "<event>"` block: a command run on an event, without
// a shell, killed after Timeout.
type Hook struct {
	Command []string
	Timeout time.Duration

	DefRange hcl.Range `json:"-"`
}

// VRRPScript is a `vrrp_script` block.
type VRRPScript struct {
	Name     string
	Command  []string
	Interval time.Duration
	Timeout  time.Duration
	Rise     int
	Fall     int
	Weight   int    // default weight for track_script
	Reverse  bool   `json:",omitempty"` // default reverse for track_script
	User     string `json:",omitempty"`

	DefRange hcl.Range `json:"-"`
}

// VRRPInstance is a `vrrp_instance` block.
type VRRPInstance struct {
	Name      string
	Interface string
	VRID      uint8
	Priority  uint8
	Version   int // 2 or 3
	// AdvertInterval is whole seconds for v2, a multiple of 10ms for v3.
	AdvertInterval time.Duration
	Preempt        bool
	PreemptDelay   time.Duration
	// UnicastSource (optional) and UnicastPeers: unicast mode when peers
	// are set, multicast otherwise.
	UnicastSource netip.Addr
	UnicastPeers  []netip.Addr `json:",omitempty"`
	// MulticastGroup replaces 224.0.0.18 / ff02::12 (keepalived's
	// mcast_dst_ip); zero: the RFCs' group.
	MulticastGroup netip.Addr `json:",omitzero"`
	AuthPass       string     `json:",omitempty"` // v2 PASS authentication
	// Family is the family of the virtual addresses (and of the adverts).
	Family           ipvs.Family
	VirtualAddresses []VirtualAddress

	TrackInterfaces     []Track `json:",omitempty"`
	TrackScripts        []Track `json:",omitempty"`
	TrackVirtualServers []Track `json:",omitempty"`

	GratuitousARP GratuitousARP
	// SyncGroup is the vrrp_sync_group the instance belongs to, if any.
	SyncGroup string `json:",omitempty"`
	Notify    VRRPNotify

	DefRange hcl.Range `json:"-"`
}

// VirtualAddress is one address a VRRP master owns.
type VirtualAddress struct {
	Prefix    netip.Prefix // address and prefix length (/32 or /128 unless given)
	Interface string       // where it is added: the instance's interface unless set
	// Excluded: from virtual_addresses_excluded, owned and announced but
	// not listed in the adverts; either family.
	Excluded bool `json:",omitempty"`
}

// Track is a tracked object of a VRRP instance. Weight 0: the instance goes
// to FAULT while the object is down. Negative: the priority is lowered by
// -Weight while it is down. Positive: raised by Weight while it is up.
// Reverse turns the adjustment round, as keepalived's `weight W reverse`
// does: lowered while up, raised while down, FAULT while up for weight 0.
type Track struct {
	Name    string
	Weight  int
	Reverse bool `json:",omitempty"`
}

// GratuitousARP controls the gratuitous ARPs (IPv4) and unsolicited
// neighbour advertisements (IPv6) a new master sends.
type GratuitousARP struct {
	Count            int           // packets per address in the burst on becoming master
	Interval         time.Duration // spacing of the packets in a burst
	SecondBurstDelay time.Duration // a second burst this long after; zero: none
	RefreshInterval  time.Duration // periodic refresh while master; zero: off
	RefreshCount     int           // packets per address per refresh
}

// VRRPNotify are the hooks of an instance or a sync group. Any runs on
// every transition.
type VRRPNotify struct {
	Master *Hook `json:",omitempty"`
	Backup *Hook `json:",omitempty"`
	Fault  *Hook `json:",omitempty"`
	Stop   *Hook `json:",omitempty"`
	Any    *Hook `json:",omitempty"`
}

// SyncGroup is a `vrrp_sync_group` block: instances that change state
// together.
type SyncGroup struct {
	Name      string
	Instances []string
	Notify    VRRPNotify

	DefRange hcl.Range `json:"-"`
}

// VirtualServer returns the virtual server named name, or nil.
func (c *Config) VirtualServer(name string) *VirtualServer {
	for _, vs := range c.VirtualServers {
		if vs.Name == name {
			return vs
		}
	}
	return nil
}

// VRRPInstance returns the instance named name, or nil.
func (c *Config) VRRPInstance(name string) *VRRPInstance {
	for _, vi := range c.VRRPInstances {
		if vi.Name == name {
			return vi
		}
	}
	return nil
}

// RealServerCount is the number of real servers over all virtual servers.
func (c *Config) RealServerCount() int {
	n := 0
	for _, vs := range c.VirtualServers {
		n += len(vs.RealServers)
	}
	return n
}

// Hash is a stable hash of the effective configuration: equal for two
// configurations that would make the daemon do the same thing, whatever
// their formatting, comments, variables, file split or the order of their
// top-level blocks and real servers. It is a hex SHA-256.
func (c *Config) Hash() string {
	canon := *c
	byName := func(name func(i int) string, n int) []int {
		idx := make([]int, n)
		for i := range idx {
			idx[i] = i
		}
		slices.SortStableFunc(idx, func(a, b int) int { return strings.Compare(name(a), name(b)) })
		return idx
	}
	canon.VirtualServers = make([]*VirtualServer, len(c.VirtualServers))
	for i, j := range byName(func(i int) string { return c.VirtualServers[i].Name }, len(c.VirtualServers)) {
		vs := *c.VirtualServers[j]
		rss := vs.RealServers
		vs.RealServers = make([]*RealServer, len(rss))
		for k, l := range byName(func(i int) string { return rss[i].Name }, len(rss)) {
			vs.RealServers[k] = rss[l]
		}
		canon.VirtualServers[i] = &vs
	}
	canon.VRRPInstances = make([]*VRRPInstance, len(c.VRRPInstances))
	for i, j := range byName(func(i int) string { return c.VRRPInstances[i].Name }, len(c.VRRPInstances)) {
		canon.VRRPInstances[i] = c.VRRPInstances[j]
	}
	canon.VRRPScripts = make([]*VRRPScript, len(c.VRRPScripts))
	for i, j := range byName(func(i int) string { return c.VRRPScripts[i].Name }, len(c.VRRPScripts)) {
		canon.VRRPScripts[i] = c.VRRPScripts[j]
	}
	canon.SyncGroups = make([]*SyncGroup, len(c.SyncGroups))
	for i, j := range byName(func(i int) string { return c.SyncGroups[i].Name }, len(c.SyncGroups)) {
		canon.SyncGroups[i] = c.SyncGroups[j]
	}
	b, err := json.Marshal(&canon)
	if err != nil {
		// Config holds only plain data; a failure here is a programming
		// error in this file, not bad input.
		panic("director: hashing config: " + err.Error())
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}
