package director

import (
	"context"
	"net/netip"
	"slices"
	"time"

	"github.com/lvsd/lvsd/checkers"
	"github.com/lvsd/lvsd/ipvs"
)

// Status is a read-only snapshot of the Director for the status API,
// `lvsd status` and metrics. Director.Status returns a current one (built
// by the event loop when something changed since the last) with every
// check's last result filled in. Nothing in it may be modified: slices are
// shared between snapshots.
type Status struct {
	Node        string
	ConfigHash  string
	ConfigFiles []string
	// Started is when Run started; Updated when this snapshot was built.
	Started time.Time
	Updated time.Time
	// Ready is set once the first sync is done.
	Ready bool

	VirtualServers []VirtualServerStatus
	// Overrides lists every operator override, including those of real
	// servers the configuration no longer has (they apply again if the
	// server comes back).
	Overrides []OverrideStatus
	// Draining lists the real servers kept at weight 0 until their
	// connections end or their drain timeout passes.
	Draining []DrainStatus
	Sync     SyncStatus
	Reload   ReloadStatus

	// VRRP lists every vrrp_instance by name, VRRPGroups every
	// vrrp_sync_group; both are read live when Status is called.
	VRRP       []VRRPInstanceStatus `json:",omitempty"`
	VRRPGroups []VRRPGroupStatus    `json:",omitempty"`
}

// VirtualServerStatus is one virtual server.
type VirtualServerStatus struct {
	Name      string
	Services  []ipvs.ServiceKey
	Scheduler string
	// QuorumUp is the virtual server's state: its up real servers'
	// weights reach its quorum (with hysteresis on the way back up).
	QuorumUp   bool
	WeightUp   uint64
	Quorum     uint32
	Hysteresis uint32
	// QuorumSince is the last quorum transition (or when the virtual
	// server was first seen).
	QuorumSince time.Time
	// Sorry is the sorry server, if any; SorryActive is set while it
	// takes the traffic.
	Sorry       *netip.AddrPort `json:",omitempty"`
	SorryActive bool
	RealServers []RealServerStatus
}

// RealServerStatus is one real server of one virtual server.
type RealServerStatus struct {
	ID   string // "vs/name"
	Name string
	Addr netip.Addr
	// Port is 0 when the real server takes each service's own port.
	Port    uint16
	Forward ipvs.Forward
	// ConfiguredWeight is the configuration's; EffectiveWeight is what
	// the kernel is given (0 while down with inhibit_on_failure, drained
	// or quiesced for the sorry server), meaningful when InTable.
	ConfiguredWeight uint32
	EffectiveWeight  uint32
	InTable          bool
	// Checked is false for a real server without checks (always up).
	Checked bool
	Up      bool
	// DynamicWeight is the weight an exec check set, or -1.
	DynamicWeight int
	// Reason, Check and Since describe the last change of health: the
	// result's reason, the check that caused it, and when.
	Reason      string
	Check       string `json:",omitempty"`
	Since       time.Time
	Transitions uint64
	Override    Override `json:",omitempty"`
	Draining    bool
	// Checks are the real server's checks with their last results
	// (filled by Director.Status; a check shared with other real servers
	// appears under each of them).
	Checks []CheckStatus `json:",omitempty"`
}

// CheckStatus is one running check.
type CheckStatus struct {
	ID     string
	Kind   string
	Target netip.AddrPort
	Up     bool
	// Last is the last result (its Reason and Latency), at LastTime.
	Last     checkers.Result
	LastTime time.Time
	Runs     uint64
	Failures uint64
	// Owners is how many real servers share the check.
	Owners int
}

// OverrideStatus is one operator override.
type OverrideStatus struct {
	RealServer string
	Override   Override
	Since      time.Time
	// Configured is false when the configuration no longer has the real
	// server.
	Configured bool
}

// DrainStatus is one real server draining.
type DrainStatus struct {
	Service ipvs.ServiceKey
	Addr    netip.AddrPort
	// RealServer is its ID when the configuration still has it.
	RealServer     string `json:",omitempty"`
	Since          time.Time
	Deadline       time.Time
	ActiveConns    uint32
	InactiveConns  uint32
	ServiceRemoved bool
}

// SyncStatus counts the Director's work on the kernel table.
type SyncStatus struct {
	// FullSyncs dump the kernel and repair drift (start, reloads, the
	// resync interval, drain deadlines); FastSyncs write an event's
	// change from the Reconciler's model without a dump.
	FullSyncs uint64
	FastSyncs uint64
	// Ops, FailedOps and Writes add up every sync's.
	Ops       uint64
	FailedOps uint64
	Writes    uint64
	// DriftRepairs counts operations that undid a change made behind
	// lvsd's back.
	DriftRepairs uint64
	// LastFull is when the last full sync ended and how long it took.
	LastFull         time.Time
	LastFullDuration time.Duration
	// LastEventDelay is the time from the last health verdict that
	// changed the table to the end of its kernel write.
	LastEventDelay time.Duration
	// LastError is the last sync's error (empty when it succeeded).
	LastError string `json:",omitempty"`
	// Owned is the number of kernel services lvsd owns.
	Owned int
}

// ReloadStatus is the history of configuration reloads.
type ReloadStatus struct {
	Reloads  uint64
	Failures uint64
	// Last is the last attempt: when, whether it was applied, why not,
	// and its kernel writes.
	Last   time.Time
	OK     bool
	Error  string `json:",omitempty"`
	Ops    int
	Writes uint64
}

// Status returns a current snapshot, with the last result of every check
// filled in. When the state changed since the last snapshot, the event loop
// builds a new one (it waits at most statusWait for a busy loop, then
// returns the previous one). Before Run has done its first sync it holds
// the configuration only.
func (d *Director) Status() Status {
	if d.dirty.Load() && d.running.Load() {
		ctx, cancel := context.WithTimeout(context.Background(), statusWait)
		reply := make(chan struct{}, 1)
		_, _ = call(ctx, d, eventFunc(func(_ context.Context, d *Director) {
			if d.dirty.Load() {
				d.publish()
			}
			reply <- struct{}{}
		}), reply)
		cancel()
	}
	s := *d.status.Load()
	s.VRRP, s.VRRPGroups = d.vrrp.status()
	byOwner := map[string][]CheckStatus{}
	for _, c := range d.runner.Status() {
		cs := CheckStatus{ID: c.ID, Kind: string(c.Kind), Target: c.Target, Up: c.Up, Last: c.Last,
			LastTime: c.LastTime, Runs: c.Runs, Failures: c.Failures, Owners: len(c.Owners)}
		for _, o := range c.Owners {
			byOwner[o] = append(byOwner[o], cs)
		}
	}
	if len(byOwner) == 0 {
		return s
	}
	s.VirtualServers = slices.Clone(s.VirtualServers)
	for i := range s.VirtualServers {
		rss := slices.Clone(s.VirtualServers[i].RealServers)
		for j := range rss {
			rss[j].Checks = byOwner[rss[j].ID]
		}
		s.VirtualServers[i].RealServers = rss
	}
	return s
}

// buildStatus makes a snapshot from the loop's state.
func (d *Director) buildStatus() *Status {
	st := &d.st
	cfg := st.cfg
	s := &Status{
		Node:        cfg.NodeName,
		ConfigHash:  st.hash,
		ConfigFiles: cfg.Files,
		Started:     st.started,
		Updated:     d.clock.Now(),
		Ready:       st.ready,
		Sync:        st.sync,
		Reload:      st.reload,
	}
	draining := map[ipvs.ServiceKey]map[netip.AddrPort]bool{}
	for _, dr := range st.draining {
		if draining[dr.Service] == nil {
			draining[dr.Service] = map[netip.AddrPort]bool{}
		}
		draining[dr.Service][dr.Addr] = true
	}
	destOwner := map[ipvs.ServiceKey]map[netip.AddrPort]string{} // of draining services only
	for _, vs := range cfg.VirtualServers {
		q := st.quorum[vs.Name]
		if q == nil {
			q = &quorumInfo{}
		}
		vss := VirtualServerStatus{
			Name: vs.Name, Services: vs.Services, Scheduler: vs.Scheduler,
			QuorumUp: st.in.QuorumUp[vs.Name], WeightUp: q.weightUp, Quorum: vs.Quorum, Hysteresis: vs.Hysteresis,
			QuorumSince: q.since, SorryActive: SorryActive(vs, st.in),
		}
		if sv := vs.SorryServer; sv != nil {
			a := netip.AddrPortFrom(sv.Addr, sv.Port)
			vss.Sorry = &a
		}
		sorry := vss.SorryActive
		vss.RealServers = make([]RealServerStatus, 0, len(vs.RealServers))
		for _, rs := range vs.RealServers {
			h := st.in.health(rs)
			info := st.rsInfo[rs.ID]
			w, in := Placement(rs, h, st.in.Overrides[rs.ID], sorry)
			rss := RealServerStatus{
				ID: rs.ID, Name: rs.Name, Addr: rs.Addr, Port: rs.Port, Forward: rs.Forward,
				ConfiguredWeight: rs.Weight, EffectiveWeight: w, InTable: in,
				Checked: checked(rs), Up: h.Up, DynamicWeight: -1,
				Override: st.in.Overrides[rs.ID],
			}
			if h.Dynamic {
				rss.DynamicWeight = int(h.Weight)
			}
			if info != nil {
				rss.Reason, rss.Check, rss.Since, rss.Transitions = info.reason, info.check, info.since, info.transitions
			}
			for _, key := range vs.Services {
				dk := draining[key]
				if dk == nil {
					continue
				}
				a := rs.Destination(key).Addr
				if dk[a] {
					rss.Draining = true
				}
				if destOwner[key] == nil {
					destOwner[key] = map[netip.AddrPort]string{}
				}
				destOwner[key][a] = rs.ID
			}
			vss.RealServers = append(vss.RealServers, rss)
		}
		s.VirtualServers = append(s.VirtualServers, vss)
	}
	for _, id := range sortedStrings(st.in.Overrides) {
		_, configured := st.rsByID[id]
		s.Overrides = append(s.Overrides, OverrideStatus{RealServer: id, Override: st.in.Overrides[id],
			Since: st.overrideSince[id], Configured: configured})
	}
	for _, dr := range st.draining {
		s.Draining = append(s.Draining, DrainStatus{
			Service: dr.Service, Addr: dr.Addr, RealServer: destOwner[dr.Service][dr.Addr],
			Since: dr.Since, Deadline: dr.Deadline, ActiveConns: dr.ActiveConns, InactiveConns: dr.InactiveConns,
			ServiceRemoved: dr.ServiceRemoved,
		})
	}
	return s
}

// statusWait bounds how long Status waits for the loop (busy with a full
// sync of a large table, say) before it settles for the last snapshot.
const statusWait = 2 * time.Second

func sortedStrings[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}
