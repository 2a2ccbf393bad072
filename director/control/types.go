package control

import "time"

// The JSON the API speaks. These types are the API's contract
// (docs/operations.md documents every field): they are built from the
// director's status, the kernel's counters and the VRRP instances, and do
// not change when those internals do. Durations are seconds (float) in
// fields named *_seconds; times are RFC 3339; a zero time is omitted.

// Status is GET /v1/status: the whole daemon at one moment.
type Status struct {
	Node    string    `json:"node"`
	Version string    `json:"version"`
	PID     int       `json:"pid"`
	Started time.Time `json:"started"`
	// Ready is set once the first sync has programmed the kernel.
	Ready  bool       `json:"ready"`
	Config ConfigInfo `json:"config"`
	Reload ReloadInfo `json:"reload"`
	Sync   SyncInfo   `json:"sync"`
	VRRP   VRRPInfo   `json:"vrrp"`
	// Kernel says when the counters in the virtual servers were read.
	Kernel         KernelInfo      `json:"kernel"`
	VirtualServers []VirtualServer `json:"virtual_servers"`
	// Overrides are the operators' drain/disable settings, also those of
	// real servers the configuration no longer has.
	Overrides []OverrideInfo `json:"overrides"`
	// Draining are the real servers kept at weight 0 until their
	// connections end or their drain timeout passes.
	Draining []DrainInfo `json:"draining"`
}

// ConfigInfo is the configuration in force.
type ConfigInfo struct {
	// Hash identifies the configuration's effective content (after
	// variables and defaults): equal on two nodes means the same settings.
	Hash  string   `json:"hash"`
	Files []string `json:"files"`
}

// ReloadInfo is the history of reloads (SIGHUP or the API).
type ReloadInfo struct {
	Reloads  uint64 `json:"reloads"`
	Failures uint64 `json:"failures"`
	// Last, OK and Error describe the last attempt; omitted before any.
	Last   *time.Time `json:"last,omitempty"`
	OK     bool       `json:"ok"`
	Error  string     `json:"error,omitempty"`
	Ops    int        `json:"ops"`
	Writes uint64     `json:"writes"`
}

// SyncInfo counts the daemon's work on the kernel table.
type SyncInfo struct {
	FullSyncs    uint64 `json:"full_syncs"`
	FastSyncs    uint64 `json:"fast_syncs"`
	Ops          uint64 `json:"ops"`
	FailedOps    uint64 `json:"failed_ops"`
	Writes       uint64 `json:"writes"`
	DriftRepairs uint64 `json:"drift_repairs"`
	// LastFull is when the last full sync (dump, diff, repair) ended.
	LastFull                *time.Time `json:"last_full,omitempty"`
	LastFullDurationSeconds float64    `json:"last_full_duration_seconds"`
	// LastEventDelaySeconds is the time from the last health verdict that
	// changed the table to the end of its kernel write.
	LastEventDelaySeconds float64 `json:"last_event_delay_seconds"`
	LastError             string  `json:"last_error,omitempty"`
	// OwnedServices is how many kernel services lvsd owns.
	OwnedServices int `json:"owned_services"`
}

// VRRPInfo is the VRRP side.
type VRRPInfo struct {
	// Running is false when this daemon runs no VRRP instance; Note then
	// says why.
	Running   bool           `json:"running"`
	Note      string         `json:"note,omitempty"`
	Instances []VRRPInstance `json:"instances"`
	Groups    []VRRPGroup    `json:"groups"`
}

// VRRPInstance is one vrrp_instance.
type VRRPInstance struct {
	Name      string `json:"name"`
	Interface string `json:"interface"`
	VRID      uint8  `json:"vrid"`
	Version   uint8  `json:"version"`
	SyncGroup string `json:"sync_group,omitempty"`
	// State is INIT, BACKUP, MASTER or FAULT.
	State string    `json:"state"`
	Since time.Time `json:"since"`
	// Reason says why the last transition happened.
	Reason      string `json:"reason,omitempty"`
	Transitions uint64 `json:"transitions"`
	// Priority is the configured priority; EffectivePriority the one
	// advertised after tracking.
	Priority          uint8 `json:"priority"`
	EffectivePriority uint8 `json:"effective_priority"`
	// Master is the current master's address (this node's own while
	// MASTER) and its priority, when known.
	Master         string `json:"master,omitempty"`
	MasterPriority uint8  `json:"master_priority,omitempty"`
	// AdvertIntervalSeconds is the configured interval;
	// MasterAdvertIntervalSeconds the one in use (a v3 backup follows the
	// master's).
	AdvertIntervalSeconds       float64 `json:"advert_interval_seconds"`
	MasterAdvertIntervalSeconds float64 `json:"master_advert_interval_seconds"`
	// Fault names the tracked objects that hold the instance in FAULT.
	Fault   string      `json:"fault,omitempty"`
	Tracked []VRRPTrack `json:"tracked,omitempty"`
	// SteppedDownUntil is set while a failover request keeps the instance
	// out of MASTER.
	SteppedDownUntil *time.Time `json:"stepped_down_until,omitempty"`
	VIPs             []string   `json:"vips"`
	// Running is false while the instance cannot run (its interface is
	// missing, its socket failed); LastError says why. It is retried with
	// a backoff; Restarts counts the attempts.
	Running   bool       `json:"running"`
	LastError string     `json:"last_error,omitempty"`
	Restarts  uint64     `json:"restarts"`
	Adverts   AdvertInfo `json:"adverts"`
}

// VRRPTrack is one object an instance tracks.
type VRRPTrack struct {
	// Kind is interface, script or virtual_server.
	Kind   string `json:"kind"`
	Name   string `json:"name"`
	Weight int    `json:"weight"`
	Up     bool   `json:"up"`
}

// VRRPGroup is one vrrp_sync_group.
type VRRPGroup struct {
	Name      string   `json:"name"`
	State     string   `json:"state"`
	Instances []string `json:"instances"`
}

// AdvertInfo counts an instance's VRRP packets since the daemon started.
type AdvertInfo struct {
	Sent       uint64 `json:"sent"`
	SendErrors uint64 `json:"send_errors"`
	Received   uint64 `json:"received"`
	// Dropped counts received adverts refused, by reason (ttl, checksum,
	// auth_data, vrid...); reasons with no drop are omitted.
	Dropped          map[string]uint64 `json:"dropped"`
	PriorityZeroSent uint64            `json:"priority_zero_sent"`
	PriorityZeroRcvd uint64            `json:"priority_zero_received"`
	IntervalMismatch uint64            `json:"interval_mismatch"`
}

// KernelInfo says where the traffic counters come from.
type KernelInfo struct {
	// CountersRead is when the kernel's counters were read (they are
	// cached for a moment, so that frequent readers do not dump the
	// table each time); Error is set when they could not be read.
	CountersRead *time.Time `json:"counters_read,omitempty"`
	Error        string     `json:"error,omitempty"`
}

// VirtualServer is one virtual_server block.
type VirtualServer struct {
	Name      string `json:"name"`
	Scheduler string `json:"scheduler"`
	// Up is the quorum state: the up real servers' weights reach Quorum
	// (Quorum + Hysteresis on the way back up).
	Up         bool      `json:"up"`
	WeightUp   uint64    `json:"weight_up"`
	Quorum     uint32    `json:"quorum"`
	Hysteresis uint32    `json:"hysteresis"`
	Since      time.Time `json:"since"`
	// SorryServer is set when configured; SorryActive while it takes the
	// traffic.
	SorryServer string       `json:"sorry_server,omitempty"`
	SorryActive bool         `json:"sorry_active"`
	Services    []Service    `json:"services"`
	RealServers []RealServer `json:"real_servers"`
}

// Service is one kernel service of a virtual server with its counters.
type Service struct {
	// Key is the service in ipvsadm's notation: "tcp 203.0.113.10:80",
	// "fwm 7".
	Key string `json:"key"`
	// InKernel is false when the kernel does not hold the service (or its
	// counters could not be read).
	InKernel bool   `json:"in_kernel"`
	Stats    *Stats `json:"stats,omitempty"`
}

// RealServer is one real server of a virtual server.
type RealServer struct {
	// ID is "VS/NAME", what drain, enable and disable take.
	ID   string `json:"id"`
	Name string `json:"name"`
	// Address is "ADDR:PORT", or "ADDR" when the real server takes each
	// service's port.
	Address string `json:"address"`
	Forward string `json:"forward"`
	// State sums up the rest: up, down, drain, disabled (the override
	// wins), or draining (removed, its connections finishing).
	State            string `json:"state"`
	Up               bool   `json:"up"`
	Checked          bool   `json:"checked"`
	ConfiguredWeight uint32 `json:"configured_weight"`
	// EffectiveWeight is what the kernel is given; InTable whether the
	// kernel has the real server at all.
	EffectiveWeight uint32 `json:"effective_weight"`
	InTable         bool   `json:"in_table"`
	DynamicWeight   *int   `json:"dynamic_weight,omitempty"`
	Override        string `json:"override,omitempty"`
	Draining        bool   `json:"draining"`
	// Reason, Check and Since describe the last change of health.
	Reason      string    `json:"reason,omitempty"`
	Check       string    `json:"check,omitempty"`
	Since       time.Time `json:"since"`
	Transitions uint64    `json:"transitions"`
	// LastCheck is the most recent result of any of its checks.
	LastCheck *CheckResult `json:"last_check,omitempty"`
	Checks    []Check      `json:"checks,omitempty"`
	// Kernel is the real server in each service, with its counters.
	Kernel []Destination `json:"kernel,omitempty"`
	// Totals sums Kernel over the services.
	Totals *Stats `json:"totals,omitempty"`
}

// Check is one health check of a real server (a check shared by several
// real servers appears under each).
type Check struct {
	ID       string       `json:"id"`
	Kind     string       `json:"kind"`
	Target   string       `json:"target"`
	Up       bool         `json:"up"`
	Last     *CheckResult `json:"last,omitempty"`
	Runs     uint64       `json:"runs"`
	Failures uint64       `json:"failures"`
	// Owners is how many real servers share the check.
	Owners int `json:"owners"`
}

// CheckResult is one check run's result.
type CheckResult struct {
	OK             bool      `json:"ok"`
	Reason         string    `json:"reason,omitempty"`
	LatencySeconds float64   `json:"latency_seconds"`
	Time           time.Time `json:"time"`
}

// Destination is a real server in one kernel service.
type Destination struct {
	Service string `json:"service"`
	Address string `json:"address"`
	Weight  uint32 `json:"weight"`
	Stats   Stats  `json:"stats"`
}

// Stats are the kernel's counters (64-bit) and its rate estimates (per
// second, over the last few seconds).
type Stats struct {
	ActiveConns     uint32 `json:"active_conns"`
	InactiveConns   uint32 `json:"inactive_conns"`
	PersistentConns uint32 `json:"persistent_conns"`
	Conns           uint64 `json:"conns"`
	PacketsIn       uint64 `json:"packets_in"`
	PacketsOut      uint64 `json:"packets_out"`
	BytesIn         uint64 `json:"bytes_in"`
	BytesOut        uint64 `json:"bytes_out"`
	CPS             uint64 `json:"cps"`
	PPSIn           uint64 `json:"pps_in"`
	PPSOut          uint64 `json:"pps_out"`
	BPSIn           uint64 `json:"bps_in"`
	BPSOut          uint64 `json:"bps_out"`
}

// OverrideInfo is one operator override.
type OverrideInfo struct {
	RealServer string    `json:"real_server"`
	Override   string    `json:"override"`
	Since      time.Time `json:"since"`
	// Configured is false when the configuration no longer has the real
	// server (the override applies again if it comes back).
	Configured bool `json:"configured"`
}

// DrainInfo is a real server draining out of a service.
type DrainInfo struct {
	Service        string    `json:"service"`
	Address        string    `json:"address"`
	RealServer     string    `json:"real_server,omitempty"`
	Since          time.Time `json:"since"`
	Deadline       time.Time `json:"deadline"`
	ActiveConns    uint32    `json:"active_conns"`
	InactiveConns  uint32    `json:"inactive_conns"`
	ServiceRemoved bool      `json:"service_removed"`
}

// OverrideRequest is the body of POST /v1/override.
type OverrideRequest struct {
	// RealServer is "VS/NAME", or anything that names one real server
	// unambiguously: "ADDR:PORT", "ADDR", "NAME", "VS/ADDR:PORT".
	RealServer string `json:"real_server"`
	// Override is "drain", "disable" or "enable" (clears it).
	Override string `json:"override"`
	// All applies the override to every real server RealServer matches
	// (the same backend under several virtual servers) instead of
	// refusing an ambiguous one.
	All bool `json:"all,omitempty"`
}

// OverrideResponse lists what an override changed.
type OverrideResponse struct {
	Changed []OverrideChange `json:"changed"`
}

// OverrideChange is one real server's override before and after.
type OverrideChange struct {
	RealServer string `json:"real_server"`
	Was        string `json:"was"`
	Now        string `json:"now"`
}

// ReloadResponse is the answer of POST /v1/reload.
type ReloadResponse struct {
	OK      bool   `json:"ok"`
	Hash    string `json:"hash"`
	Changed bool   `json:"changed"`
	// Ops are the kernel changes in ipvsadm notation; Writes how many
	// netlink writes they took.
	Ops    []string `json:"ops"`
	Writes uint64   `json:"writes"`
	// Error and Diagnostics explain a refused reload (nothing changed);
	// Diagnostics also carries an applied configuration's warnings.
	Error       string       `json:"error,omitempty"`
	Diagnostics []Diagnostic `json:"diagnostics,omitempty"`
	// Text is Diagnostics as `lvsd validate` prints them, with the source
	// lines.
	Text string `json:"text,omitempty"`
}

// Diagnostic is one configuration error or warning.
type Diagnostic struct {
	Severity string `json:"severity"` // error or warning
	Summary  string `json:"summary"`
	Detail   string `json:"detail,omitempty"`
	// At is "file:line:col" when known.
	At string `json:"at,omitempty"`
}

// FailoverRequest is the body of POST /v1/failover.
type FailoverRequest struct {
	// Instance is the vrrp_instance (or vrrp_sync_group: all its
	// instances) to step down; empty means every instance this node is
	// MASTER of.
	Instance string `json:"instance,omitempty"`
	// For is how long the instance stays out of MASTER ("30s"); empty
	// means the default, 30s.
	For string `json:"for,omitempty"`
}

// FailoverResponse lists the instances stepped down.
type FailoverResponse struct {
	Instances []string  `json:"instances"`
	Until     time.Time `json:"until"`
}

// Error is the body of every error response.
type Error struct {
	Error string `json:"error"`
	// Candidates lists the matches of an ambiguous real server.
	Candidates []string `json:"candidates,omitempty"`
}
