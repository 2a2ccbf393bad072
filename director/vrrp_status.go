package director

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"time"

	"github.com/lvsd/lvsd/vrrp"
)

// VRRPInstanceStatus is one vrrp_instance as Status shows it: read live
// from the running instance when Status is called.
type VRRPInstanceStatus struct {
	Name      string
	Interface string
	VRID      uint8
	Version   uint8
	// SyncGroup is the vrrp_sync_group the instance is in, if any.
	SyncGroup string `json:",omitempty"`
	// Running is false while the instance cannot run (its socket failed,
	// or its interface does not exist): LastError says why, and it is
	// tried again with a backoff.
	Running bool
	// State is "INIT", "BACKUP", "MASTER" or "FAULT". Since, Reason are
	// the last transition's (a reload that replaced the instance in place
	// is not one).
	State  string
	Since  time.Time
	Reason string
	// Priority is the configured priority; EffectivePriority is the one
	// advertised, after tracking.
	Priority          uint8
	EffectivePriority uint8
	// Master is the master's address: this node's advert source while
	// MASTER, else the last master heard from (invalid if none), with
	// MasterPriority its advertised priority.
	Master         netip.Addr
	MasterPriority uint8
	// AdvertInterval is the configured one; MasterAdvertInterval the one
	// the state machine runs on (learned from the master in v3).
	AdvertInterval       time.Duration
	MasterAdvertInterval time.Duration
	VirtualAddresses     []netip.Prefix
	// Fault lists the tracked objects that hold the instance in FAULT.
	Fault   string `json:",omitempty"`
	Tracked []VRRPTrackStatus
	// StepDownUntil is the end of a step-down in force (Director.StepDown).
	StepDownUntil time.Time `json:",omitzero"`
	Counters      VRRPCounters
	// LastError is the last error that stopped the instance ("" if none).
	LastError string `json:",omitempty"`
}

// VRRPTrackStatus is one tracked object of an instance.
type VRRPTrackStatus struct {
	// Kind is "interface", "script" or "virtual_server".
	Kind   string
	Name   string
	Weight int
	Up     bool
}

// VRRPCounters are an instance's counters since the daemon started; they
// only grow (across reloads that replace the instance, and restarts).
type VRRPCounters struct {
	AdvertsSent          uint64
	AdvertsReceived      uint64
	SendErrors           uint64
	PriorityZeroSent     uint64
	PriorityZeroReceived uint64
	// IntervalMismatch counts accepted v3 adverts whose interval differs
	// from ours (allowed: a backup follows the master's).
	IntervalMismatch uint64
	// Dropped counts received packets refused by the receive checks, by
	// reason (docs/vrrp.md): "ttl", "checksum", "auth_data", "vrid", ...
	// Only reasons seen are present.
	Dropped map[string]uint64 `json:",omitempty"`
	// Transitions counts state changes; Restarts the times the instance
	// was built again after an error.
	Transitions uint64
	Restarts    uint64
}

// VRRPGroupStatus is one vrrp_sync_group.
type VRRPGroupStatus struct {
	Name      string
	State     string
	Instances []string
}

// vrrpStatus reads every instance and group now.
func (s *vrrpSub) status() ([]VRRPInstanceStatus, []VRRPGroupStatus) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []VRRPInstanceStatus
	for _, m := range s.view {
		c := m.spec
		st := VRRPInstanceStatus{
			Name: m.name, Interface: c.Interface, VRID: c.VRID, Version: c.Version,
			Running: m.inst != nil, State: m.state.String(), Since: m.since, Reason: m.reason,
			Priority: c.Priority, AdvertInterval: c.AdvertInterval, StepDownUntil: m.stepDownUntil,
			LastError: m.lastError,
		}
		if st.Version == 0 {
			st.Version = 3
		}
		if m.vi != nil {
			st.SyncGroup = m.vi.SyncGroup
		}
		for _, v := range c.VIPs {
			st.VirtualAddresses = append(st.VirtualAddresses, v.Prefix)
		}
		stats := m.base
		if m.inst != nil {
			is := m.inst.Status()
			stats = addStats(stats, is.Stats)
			st.EffectivePriority = is.Priority
			st.Master, st.MasterPriority = is.Master, is.MasterPriority
			if m.state == vrrp.Master {
				st.Master, st.MasterPriority = m.inst.Config().SourceAddr, is.Priority
			}
			st.MasterAdvertInterval = is.MasterAdverInterval
			st.Fault = is.Fault
			for _, t := range is.Tracked {
				// The list starts with the instance's own interface
				// (weight 0) unless it is tracked explicitly.
				st.Tracked = append(st.Tracked, trackStatus(t))
			}
		}
		if !st.StepDownUntil.IsZero() && !st.StepDownUntil.After(s.d.clock.Now()) {
			st.StepDownUntil = time.Time{}
		}
		st.Counters = VRRPCounters{
			AdvertsSent: stats.Sent, AdvertsReceived: stats.Received, SendErrors: stats.SendErrs,
			PriorityZeroSent: stats.PriorityZeroSent, PriorityZeroReceived: stats.PriorityZeroRcvd,
			IntervalMismatch: stats.IntervalMismatch, Transitions: m.transitions, Restarts: m.restarts,
		}
		for r, n := range stats.Dropped {
			if n == 0 {
				continue
			}
			if st.Counters.Dropped == nil {
				st.Counters.Dropped = map[string]uint64{}
			}
			st.Counters.Dropped[vrrp.DropReason(r).String()] = n
		}
		out = append(out, st)
	}
	var groups []VRRPGroupStatus
	for _, u := range s.groups {
		g := VRRPGroupStatus{Name: u.name, State: vrrp.Init.String(), Instances: memberNames(u)}
		if u.sg != nil {
			g.State = u.sg.State().String()
		}
		groups = append(groups, g)
	}
	return out, groups
}

func trackStatus(t vrrp.TrackStatus) VRRPTrackStatus {
	out := VRRPTrackStatus{Kind: string(t.Kind), Name: t.Name, Weight: t.Weight, Up: t.Up}
	if name, ok := strings.CutPrefix(t.Name, "vs:"); ok && t.Kind == vrrp.TrackExternal {
		out.Kind, out.Name = "virtual_server", name
	}
	return out
}

// StepDown forces a failover: the local instance called name, or every
// member of the vrrp_sync_group called name, hands over to a backup (a
// priority 0 advert; with lvsd's handover the addresses stay until the new
// master is heard) and stays out of MASTER for d. On an instance that is
// BACKUP it only keeps it from becoming master for d. A reload that
// replaces the instance carries the step-down over. d must be positive.
// Errors: ErrNotFound (wrapped) for an unknown name, an error for an
// instance that is not running, ErrStopped after Run ended.
func (d *Director) StepDown(ctx context.Context, name string, dur time.Duration) error {
	if dur <= 0 {
		return errors.New("step-down: the duration must be positive")
	}
	reply := make(chan error, 1)
	err, cerr := call(ctx, d, eventFunc(func(_ context.Context, d *Director) {
		err := d.vrrp.stepDown(name, dur)
		if err == nil {
			d.log.WithField("name", name).WithField("for", dur).Info("vrrp: step-down requested")
			d.changed()
		}
		reply <- err
	}), reply)
	if cerr != nil {
		return cerr
	}
	return err
}
