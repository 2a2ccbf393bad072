package director

import "github.com/hashicorp/hcl/v2"

// The raw layer: the HCL schema as gohcl structs. gohcl enforces the
// structure (unknown attributes and blocks, labels, duplicate singleton
// blocks); every attribute is kept as *hcl.Attribute so the typed layer
// (config_decode.go) can evaluate it and point its own diagnostics at the
// value. gohcl cannot require a *hcl.Attribute, so every one is optional
// here and the typed layer reports the required ones (decoder.missing).
// Blocks allowed once are slices here: gohcl would drop every copy of a
// duplicated one, and with it the mistakes inside (see single). Adding an attribute to the schema means adding a field here,
// decoding it there, and documenting it in docs/config.md.

type rawRoot struct {
	NodeName *hcl.Attribute `hcl:"node_name,optional"`

	// Handled in the first pass (config_load.go); listed so that the
	// second pass accepts them.
	Variables []rawVariableIgnored `hcl:"variable,block"`
	Locals    []rawLocalsIgnored   `hcl:"locals,block"`

	Logging []*rawLogging `hcl:"logging,block"`
	Control []*rawControl `hcl:"control,block"`
	Metrics []*rawMetrics `hcl:"metrics,block"`
	IPVS    []*rawIPVS    `hcl:"ipvs,block"`
	VRRP    []*rawVRRP    `hcl:"vrrp,block"`

	VirtualServers []*rawVirtualServer `hcl:"virtual_server,block"`
	VRRPScripts    []*rawVRRPScript    `hcl:"vrrp_script,block"`
	VRRPInstances  []*rawVRRPInstance  `hcl:"vrrp_instance,block"`
	SyncGroups     []*rawSyncGroup     `hcl:"vrrp_sync_group,block"`
}

type rawVariableIgnored struct {
	Name   string   `hcl:"name,label"`
	Remain hcl.Body `hcl:",remain"`
}

type rawLocalsIgnored struct {
	Remain hcl.Body `hcl:",remain"`
}

// rawVariable is the first pass's view of a `variable` block.
type rawVariable struct {
	Name        string         `hcl:"name,label"`
	Type        *hcl.Attribute `hcl:"type,optional"`
	Default     *hcl.Attribute `hcl:"default,optional"`
	Description *hcl.Attribute `hcl:"description,optional"`
	DefRange    hcl.Range      `hcl:",def_range"`
	LabelRange  hcl.Range      `hcl:"name,label_range"`
}

type rawLogging struct {
	DefRange hcl.Range      `hcl:",def_range"`
	Level    *hcl.Attribute `hcl:"level,optional"`
	Format   *hcl.Attribute `hcl:"format,optional"`
}

type rawControl struct {
	DefRange hcl.Range      `hcl:",def_range"`
	Socket   *hcl.Attribute `hcl:"socket,optional"`
	Mode     *hcl.Attribute `hcl:"mode,optional"`
	Listen   *hcl.Attribute `hcl:"listen,optional"`
}

type rawMetrics struct {
	DefRange hcl.Range      `hcl:",def_range"`
	Listen   *hcl.Attribute `hcl:"listen,optional"`
	Path     *hcl.Attribute `hcl:"path,optional"`
}

type rawIPVS struct {
	ResyncInterval *hcl.Attribute   `hcl:"resync_interval,optional"`
	RemoveOnStop   *hcl.Attribute   `hcl:"remove_on_stop,optional"`
	Timeouts       []*rawTimeouts   `hcl:"timeouts,block"`
	SyncDaemon     []*rawSyncDaemon `hcl:"sync_daemon,block"`
	DefRange       hcl.Range        `hcl:",def_range"`
}

type rawTimeouts struct {
	TCP      *hcl.Attribute `hcl:"tcp,optional"`
	TCPFin   *hcl.Attribute `hcl:"tcp_fin,optional"`
	UDP      *hcl.Attribute `hcl:"udp,optional"`
	DefRange hcl.Range      `hcl:",def_range"`
}

type rawSyncDaemon struct {
	Interface    *hcl.Attribute `hcl:"interface,optional"`
	VRRPInstance *hcl.Attribute `hcl:"vrrp_instance,optional"`
	Role         *hcl.Attribute `hcl:"role,optional"`
	SyncID       *hcl.Attribute `hcl:"sync_id,optional"`
	Port         *hcl.Attribute `hcl:"port,optional"`
	TTL          *hcl.Attribute `hcl:"ttl,optional"`
	Group        *hcl.Attribute `hcl:"group,optional"`
	MaxLen       *hcl.Attribute `hcl:"max_packet_size,optional"`
	DefRange     hcl.Range      `hcl:",def_range"`
}

type rawVRRP struct {
	DefRange      hcl.Range      `hcl:",def_range"`
	StateFile     *hcl.Attribute `hcl:"state_file,optional"`
	GratuitousARP []*rawGARP     `hcl:"gratuitous_arp,block"`
}

type rawGARP struct {
	DefRange         hcl.Range      `hcl:",def_range"`
	Count            *hcl.Attribute `hcl:"count,optional"`
	Interval         *hcl.Attribute `hcl:"interval,optional"`
	SecondBurstDelay *hcl.Attribute `hcl:"second_burst_delay,optional"`
	RefreshInterval  *hcl.Attribute `hcl:"refresh_interval,optional"`
	RefreshCount     *hcl.Attribute `hcl:"refresh_count,optional"`
}

type rawVirtualServer struct {
	Name       string    `hcl:"name,label"`
	LabelRange hcl.Range `hcl:"name,label_range"`
	DefRange   hcl.Range `hcl:",def_range"`

	Address          *hcl.Attribute `hcl:"address,optional"`
	Addresses        *hcl.Attribute `hcl:"addresses,optional"`
	FWMark           *hcl.Attribute `hcl:"fwmark,optional"`
	Family           *hcl.Attribute `hcl:"family,optional"`
	Protocol         *hcl.Attribute `hcl:"protocol,optional"`
	Scheduler        *hcl.Attribute `hcl:"scheduler,optional"`
	SchedulerFlags   *hcl.Attribute `hcl:"scheduler_flags,optional"`
	Forward          *hcl.Attribute `hcl:"forward,optional"`
	OnePacket        *hcl.Attribute `hcl:"one_packet,optional"`
	DrainTimeout     *hcl.Attribute `hcl:"drain_timeout,optional"`
	Quorum           *hcl.Attribute `hcl:"quorum,optional"`
	Hysteresis       *hcl.Attribute `hcl:"hysteresis,optional"`
	InhibitOnFailure *hcl.Attribute `hcl:"inhibit_on_failure,optional"`

	Persistence []*rawPersistence `hcl:"persistence,block"`
	SorryServer []*rawSorryServer `hcl:"sorry_server,block"`
	Checks      []*rawCheck       `hcl:"check,block"`
	RealServers []*rawRealServer  `hcl:"real_server,block"`
	Notify      []*rawNotify      `hcl:"notify,block"`
}

type rawPersistence struct {
	Timeout  *hcl.Attribute `hcl:"timeout,optional"`
	Netmask  *hcl.Attribute `hcl:"netmask,optional"`
	DefRange hcl.Range      `hcl:",def_range"`
}

type rawSorryServer struct {
	Address  *hcl.Attribute `hcl:"address,optional"`
	Forward  *hcl.Attribute `hcl:"forward,optional"`
	Inhibit  *hcl.Attribute `hcl:"inhibit,optional"`
	DefRange hcl.Range      `hcl:",def_range"`
}

type rawRealServer struct {
	DefRange hcl.Range `hcl:",def_range"`

	Name             *hcl.Attribute `hcl:"name,optional"`
	Address          *hcl.Attribute `hcl:"address,optional"`
	Weight           *hcl.Attribute `hcl:"weight,optional"`
	Forward          *hcl.Attribute `hcl:"forward,optional"`
	UpperThreshold   *hcl.Attribute `hcl:"upper_threshold,optional"`
	LowerThreshold   *hcl.Attribute `hcl:"lower_threshold,optional"`
	InhibitOnFailure *hcl.Attribute `hcl:"inhibit_on_failure,optional"`

	Checks []*rawCheck  `hcl:"check,block"`
	Notify []*rawNotify `hcl:"notify,block"`
}

// rawCheck holds the settings common to every check kind; the rest of the
// body is decoded against the kind's own schema (checkKindSchemas).
type rawCheck struct {
	Kind       string    `hcl:"kind,label"`
	LabelRange hcl.Range `hcl:"kind,label_range"`
	DefRange   hcl.Range `hcl:",def_range"`

	Interval        *hcl.Attribute `hcl:"interval,optional"`
	RetryInterval   *hcl.Attribute `hcl:"retry_interval,optional"`
	Timeout         *hcl.Attribute `hcl:"timeout,optional"`
	Warmup          *hcl.Attribute `hcl:"warmup,optional"`
	Rise            *hcl.Attribute `hcl:"rise,optional"`
	Fall            *hcl.Attribute `hcl:"fall,optional"`
	StartDown       *hcl.Attribute `hcl:"start_down,optional"`
	SourceAddress   *hcl.Attribute `hcl:"source_address,optional"`
	SourceInterface *hcl.Attribute `hcl:"source_interface,optional"`
	Address         *hcl.Attribute `hcl:"address,optional"`
	Port            *hcl.Attribute `hcl:"port,optional"`

	Remain hcl.Body `hcl:",remain"`
}

type rawTCPCheck struct {
	Send    *hcl.Attribute `hcl:"send,optional"`
	SendHex *hcl.Attribute `hcl:"send_hex,optional"`
	Expect  *hcl.Attribute `hcl:"expect,optional"`
}

type rawHTTPCheck struct {
	Method       *hcl.Attribute `hcl:"method,optional"`
	Path         *hcl.Attribute `hcl:"path,optional"`
	Host         *hcl.Attribute `hcl:"host,optional"`
	Headers      *hcl.Attribute `hcl:"headers,optional"`
	Status       *hcl.Attribute `hcl:"status,optional"`
	BodyRegex    *hcl.Attribute `hcl:"body_regex,optional"`
	BodyMD5      *hcl.Attribute `hcl:"body_md5,optional"`
	MaxBodyBytes *hcl.Attribute `hcl:"max_body_bytes,optional"`
	KeepAlive    *hcl.Attribute `hcl:"keepalive,optional"`

	// https only (rejected with a hint on http).
	TLSServerName *hcl.Attribute `hcl:"tls_server_name,optional"`
	TLSVerify     *hcl.Attribute `hcl:"tls_verify,optional"`
	TLSCAFile     *hcl.Attribute `hcl:"tls_ca_file,optional"`
	TLSCertFile   *hcl.Attribute `hcl:"tls_cert_file,optional"`
	TLSKeyFile    *hcl.Attribute `hcl:"tls_key_file,optional"`
}

type rawExecCheck struct {
	Command       *hcl.Attribute `hcl:"command,optional"`
	User          *hcl.Attribute `hcl:"user,optional"`
	Env           *hcl.Attribute `hcl:"env,optional"`
	DynamicWeight *hcl.Attribute `hcl:"dynamic_weight,optional"`
}

type rawDNSCheck struct {
	Name      *hcl.Attribute `hcl:"name,optional"`
	Type      *hcl.Attribute `hcl:"type,optional"`
	Transport *hcl.Attribute `hcl:"transport,optional"`
	Expect    *hcl.Attribute `hcl:"expect,optional"`
}

type rawEmptyCheck struct{}

type rawNotify struct {
	Event      string         `hcl:"event,label"`
	LabelRange hcl.Range      `hcl:"event,label_range"`
	DefRange   hcl.Range      `hcl:",def_range"`
	Command    *hcl.Attribute `hcl:"command,optional"`
	Timeout    *hcl.Attribute `hcl:"timeout,optional"`
}

type rawVRRPScript struct {
	Name       string    `hcl:"name,label"`
	LabelRange hcl.Range `hcl:"name,label_range"`
	DefRange   hcl.Range `hcl:",def_range"`

	Command  *hcl.Attribute `hcl:"command,optional"`
	Interval *hcl.Attribute `hcl:"interval,optional"`
	Timeout  *hcl.Attribute `hcl:"timeout,optional"`
	Rise     *hcl.Attribute `hcl:"rise,optional"`
	Fall     *hcl.Attribute `hcl:"fall,optional"`
	Weight   *hcl.Attribute `hcl:"weight,optional"`
	Reverse  *hcl.Attribute `hcl:"reverse,optional"`
	User     *hcl.Attribute `hcl:"user,optional"`
}

type rawVRRPInstance struct {
	Name       string    `hcl:"name,label"`
	LabelRange hcl.Range `hcl:"name,label_range"`
	DefRange   hcl.Range `hcl:",def_range"`

	Interface        *hcl.Attribute `hcl:"interface,optional"`
	VRID             *hcl.Attribute `hcl:"vrid,optional"`
	Priority         *hcl.Attribute `hcl:"priority,optional"`
	Version          *hcl.Attribute `hcl:"version,optional"`
	AdvertInterval   *hcl.Attribute `hcl:"advert_interval,optional"`
	Preempt          *hcl.Attribute `hcl:"preempt,optional"`
	PreemptDelay     *hcl.Attribute `hcl:"preempt_delay,optional"`
	UnicastSource    *hcl.Attribute `hcl:"unicast_source,optional"`
	UnicastPeers     *hcl.Attribute `hcl:"unicast_peers,optional"`
	MulticastGroup   *hcl.Attribute `hcl:"multicast_group,optional"`
	AuthPass         *hcl.Attribute `hcl:"auth_pass,optional"`
	VirtualAddresses *hcl.Attribute `hcl:"virtual_addresses,optional"`
	// keepalived's virtual_ipaddress_excluded
	VirtualAddressesExcluded *hcl.Attribute `hcl:"virtual_addresses_excluded,optional"`

	GratuitousARP       []*rawGARP  `hcl:"gratuitous_arp,block"`
	TrackInterfaces     []*rawTrack `hcl:"track_interface,block"`
	TrackScripts        []*rawTrack `hcl:"track_script,block"`
	TrackVirtualServers []*rawTrack `hcl:"track_virtual_server,block"`

	Notify []*rawNotify `hcl:"notify,block"`
}

type rawTrack struct {
	Name       string         `hcl:"name,label"`
	LabelRange hcl.Range      `hcl:"name,label_range"`
	DefRange   hcl.Range      `hcl:",def_range"`
	Weight     *hcl.Attribute `hcl:"weight,optional"`
	Reverse    *hcl.Attribute `hcl:"reverse,optional"`
}

type rawSyncGroup struct {
	Name       string    `hcl:"name,label"`
	LabelRange hcl.Range `hcl:"name,label_range"`
	DefRange   hcl.Range `hcl:",def_range"`

	Instances *hcl.Attribute `hcl:"instances,optional"`
	Notify    []*rawNotify   `hcl:"notify,block"`
}

// defRanger is a raw block that knows where it is declared.
type defRanger interface{ defRange() hcl.Range }

func (r *rawLogging) defRange() hcl.Range     { return r.DefRange }
func (r *rawControl) defRange() hcl.Range     { return r.DefRange }
func (r *rawMetrics) defRange() hcl.Range     { return r.DefRange }
func (r *rawIPVS) defRange() hcl.Range        { return r.DefRange }
func (r *rawVRRP) defRange() hcl.Range        { return r.DefRange }
func (r *rawGARP) defRange() hcl.Range        { return r.DefRange }
func (r *rawTimeouts) defRange() hcl.Range    { return r.DefRange }
func (r *rawSyncDaemon) defRange() hcl.Range  { return r.DefRange }
func (r *rawPersistence) defRange() hcl.Range { return r.DefRange }
func (r *rawSorryServer) defRange() hcl.Range { return r.DefRange }

// single returns the one block of a kind allowed once (nil if absent),
// reporting every further copy; the first is still decoded so that its
// mistakes are reported too.
func single[T defRanger](d *decoder, blocks []T, name string) T {
	var zero T
	if len(blocks) == 0 {
		return zero
	}
	for _, b := range blocks[1:] {
		d.errAt(b.defRange(), "Duplicate "+name+" block", "Only one %s block is allowed here; the first is at %s.", name, posString(blocks[0].defRange()))
	}
	return blocks[0]
}
