package control

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/lvsd/lvsd/director"
	"github.com/lvsd/lvsd/ipvs"
)

// StatusSource is what the API reads: the director's snapshot. Declared
// here so that tests can hand in any Director.
type StatusSource interface {
	Status() director.Status
}

// Snapshot is one consistent reading of everything the API and metrics
// show: the director's status, the kernel's counters and when they were
// read.
type Snapshot struct {
	Director   director.Status
	Kernel     ipvs.Table
	KernelAt   time.Time
	KernelErr  error
	hasCounter bool
}

// Take reads the director's status and the (cached) kernel counters.
func Take(ctx context.Context, src StatusSource, counters *Counters) Snapshot {
	s := Snapshot{Director: src.Status()}
	if counters != nil && counters.dump != nil {
		s.Kernel, s.KernelAt, s.KernelErr = counters.Get(ctx)
		s.hasCounter = true
	}
	return s
}

// HasCounters reports whether the snapshot has the kernel's counters.
func (s *Snapshot) HasCounters() bool { return s.hasCounter && s.KernelErr == nil }

// Meta is what the daemon knows of itself.
type Meta struct {
	Version string
	PID     int
}

// BuildStatus turns a snapshot into the API's Status.
func BuildStatus(snap Snapshot, meta Meta) Status {
	ds := &snap.Director
	out := Status{
		Node: ds.Node, Version: meta.Version, PID: meta.PID, Started: ds.Started, Ready: ds.Ready,
		Config: ConfigInfo{Hash: ds.ConfigHash, Files: nonNil(ds.ConfigFiles)},
		Reload: ReloadInfo{Reloads: ds.Reload.Reloads, Failures: ds.Reload.Failures, Last: timePtr(ds.Reload.Last),
			OK: ds.Reload.OK, Error: ds.Reload.Error, Ops: ds.Reload.Ops, Writes: ds.Reload.Writes},
		Sync: SyncInfo{FullSyncs: ds.Sync.FullSyncs, FastSyncs: ds.Sync.FastSyncs, Ops: ds.Sync.Ops,
			FailedOps: ds.Sync.FailedOps, Writes: ds.Sync.Writes, DriftRepairs: ds.Sync.DriftRepairs,
			LastFull: timePtr(ds.Sync.LastFull), LastFullDurationSeconds: ds.Sync.LastFullDuration.Seconds(),
			LastEventDelaySeconds: ds.Sync.LastEventDelay.Seconds(), LastError: ds.Sync.LastError,
			OwnedServices: ds.Sync.Owned},
		VRRP:           buildVRRP(ds),
		VirtualServers: []VirtualServer{},
		Overrides:      []OverrideInfo{},
		Draining:       []DrainInfo{},
	}
	if snap.hasCounter {
		if snap.KernelErr != nil {
			out.Kernel.Error = snap.KernelErr.Error()
		} else {
			out.Kernel.CountersRead = timePtr(snap.KernelAt)
		}
	}
	for _, vs := range ds.VirtualServers {
		out.VirtualServers = append(out.VirtualServers, buildVS(vs, &snap))
	}
	for _, o := range ds.Overrides {
		out.Overrides = append(out.Overrides, OverrideInfo{RealServer: o.RealServer, Override: o.Override.String(), Since: o.Since, Configured: o.Configured})
	}
	for _, d := range ds.Draining {
		out.Draining = append(out.Draining, DrainInfo{Service: d.Service.String(), Address: d.Addr.String(), RealServer: d.RealServer,
			Since: d.Since, Deadline: d.Deadline, ActiveConns: d.ActiveConns, InactiveConns: d.InactiveConns, ServiceRemoved: d.ServiceRemoved})
	}
	return out
}

func buildVS(vs director.VirtualServerStatus, snap *Snapshot) VirtualServer {
	out := VirtualServer{Name: vs.Name, Scheduler: vs.Scheduler, Up: vs.QuorumUp, WeightUp: vs.WeightUp,
		Quorum: vs.Quorum, Hysteresis: vs.Hysteresis, Since: vs.QuorumSince, SorryActive: vs.SorryActive,
		Services: []Service{}, RealServers: []RealServer{}}
	if vs.Sorry != nil {
		out.SorryServer = vs.Sorry.String()
	}
	counters := snap.HasCounters()
	for _, key := range vs.Services {
		svc := Service{Key: key.String()}
		if counters {
			if ks, ok := snap.Kernel.Get(key); ok {
				svc.InKernel = true
				st := stats(ks.Stats)
				svc.Stats = &st
			}
		}
		out.Services = append(out.Services, svc)
	}
	for _, rs := range vs.RealServers {
		out.RealServers = append(out.RealServers, buildRS(vs, rs, snap, counters))
	}
	return out
}

func buildRS(vs director.VirtualServerStatus, rs director.RealServerStatus, snap *Snapshot, counters bool) RealServer {
	out := RealServer{
		ID: rs.ID, Name: rs.Name, Address: RealServerAddress(rs), Forward: rs.Forward.String(),
		State: RealServerState(rs), Up: rs.Up, Checked: rs.Checked,
		ConfiguredWeight: rs.ConfiguredWeight, EffectiveWeight: rs.EffectiveWeight, InTable: rs.InTable,
		Override: rs.Override.String(), Draining: rs.Draining,
		Reason: rs.Reason, Check: rs.Check, Since: rs.Since, Transitions: rs.Transitions,
	}
	if rs.Override == director.OverrideNone {
		out.Override = ""
	}
	if rs.DynamicWeight >= 0 {
		w := rs.DynamicWeight
		out.DynamicWeight = &w
	}
	for _, c := range rs.Checks {
		ch := Check{ID: c.ID, Kind: c.Kind, Target: c.Target.String(), Up: c.Up, Runs: c.Runs, Failures: c.Failures, Owners: c.Owners}
		if !c.LastTime.IsZero() {
			r := &CheckResult{OK: c.Last.OK, Reason: c.Last.Reason, LatencySeconds: c.Last.Latency.Seconds(), Time: c.LastTime}
			ch.Last = r
			if out.LastCheck == nil || r.Time.After(out.LastCheck.Time) {
				out.LastCheck = r
			}
		}
		out.Checks = append(out.Checks, ch)
	}
	if counters {
		var tot Stats
		found := false
		for _, key := range vs.Services {
			a := DestinationAddr(rs, key)
			d, ok := snap.Kernel.Destination(key, a)
			if !ok {
				continue
			}
			found = true
			st := stats(d.Stats)
			out.Kernel = append(out.Kernel, Destination{Service: key.String(), Address: a.String(), Weight: d.Weight, Stats: st})
			tot = addStats(tot, st)
		}
		if found {
			out.Totals = &tot
		}
	}
	return out
}

// RealServerState sums a real server up in one word: its override (drain,
// disabled) wins, then draining (removed, connections finishing), then
// its health (up, down).
func RealServerState(rs director.RealServerStatus) string {
	switch {
	case rs.Override == director.OverrideDrain:
		return "drain"
	case rs.Override == director.OverrideDisable:
		return "disabled"
	case rs.Draining && !rs.Up:
		return "draining"
	case rs.Up:
		return "up"
	}
	return "down"
}

// RealServerAddress is "ADDR:PORT", or "ADDR" for a real server that
// takes each service's port.
func RealServerAddress(rs director.RealServerStatus) string {
	if rs.Port == 0 {
		return rs.Addr.String()
	}
	return netip.AddrPortFrom(rs.Addr, rs.Port).String()
}

// DestinationAddr is the kernel destination of rs in service key.
func DestinationAddr(rs director.RealServerStatus, key ipvs.ServiceKey) netip.AddrPort {
	port := rs.Port
	if port == 0 && key.FWMark == 0 {
		port = key.Addr.Port()
	}
	return netip.AddrPortFrom(rs.Addr, port)
}

func stats(c ipvs.Counters) Stats {
	return Stats{ActiveConns: c.ActiveConns, InactiveConns: c.InactiveConns, PersistentConns: c.PersistentConns,
		Conns: c.Conns, PacketsIn: c.PacketsIn, PacketsOut: c.PacketsOut, BytesIn: c.BytesIn, BytesOut: c.BytesOut,
		CPS: c.CPS, PPSIn: c.PPSIn, PPSOut: c.PPSOut, BPSIn: c.BPSIn, BPSOut: c.BPSOut}
}

func addStats(a, b Stats) Stats {
	return Stats{ActiveConns: a.ActiveConns + b.ActiveConns, InactiveConns: a.InactiveConns + b.InactiveConns,
		PersistentConns: a.PersistentConns + b.PersistentConns, Conns: a.Conns + b.Conns,
		PacketsIn: a.PacketsIn + b.PacketsIn, PacketsOut: a.PacketsOut + b.PacketsOut,
		BytesIn: a.BytesIn + b.BytesIn, BytesOut: a.BytesOut + b.BytesOut, CPS: a.CPS + b.CPS,
		PPSIn: a.PPSIn + b.PPSIn, PPSOut: a.PPSOut + b.PPSOut, BPSIn: a.BPSIn + b.BPSIn, BPSOut: a.BPSOut + b.BPSOut}
}

// buildVRRP is the VRRP side of the status.
func buildVRRP(ds *director.Status) VRRPInfo {
	out := VRRPInfo{Running: len(ds.VRRP) > 0, Instances: []VRRPInstance{}, Groups: []VRRPGroup{}}
	if !out.Running {
		out.Note = "no vrrp_instance in the configuration"
	}
	for _, in := range ds.VRRP {
		v := VRRPInstance{
			Name: in.Name, Interface: in.Interface, VRID: in.VRID, Version: in.Version, SyncGroup: in.SyncGroup,
			State: in.State, Since: in.Since, Reason: in.Reason, Transitions: in.Counters.Transitions,
			Priority: in.Priority, EffectivePriority: in.EffectivePriority, MasterPriority: in.MasterPriority,
			AdvertIntervalSeconds: in.AdvertInterval.Seconds(), MasterAdvertIntervalSeconds: in.MasterAdvertInterval.Seconds(),
			Fault: in.Fault, SteppedDownUntil: timePtr(in.StepDownUntil), VIPs: []string{},
			Running: in.Running, LastError: in.LastError, Restarts: in.Counters.Restarts,
			Adverts: AdvertInfo{Sent: in.Counters.AdvertsSent, SendErrors: in.Counters.SendErrors,
				Received: in.Counters.AdvertsReceived, Dropped: map[string]uint64{},
				PriorityZeroSent: in.Counters.PriorityZeroSent, PriorityZeroRcvd: in.Counters.PriorityZeroReceived,
				IntervalMismatch: in.Counters.IntervalMismatch},
		}
		if in.Master.IsValid() {
			v.Master = in.Master.String()
		}
		for _, p := range in.VirtualAddresses {
			v.VIPs = append(v.VIPs, p.String())
		}
		for _, t := range in.Tracked {
			v.Tracked = append(v.Tracked, VRRPTrack{Kind: t.Kind, Name: t.Name, Weight: t.Weight, Up: t.Up})
		}
		for r, n := range in.Counters.Dropped {
			v.Adverts.Dropped[r] = n
		}
		out.Instances = append(out.Instances, v)
	}
	for _, g := range ds.VRRPGroups {
		out.Groups = append(out.Groups, VRRPGroup{Name: g.Name, State: g.State, Instances: nonNil(g.Instances)})
	}
	return out
}

// StepDowner is a director that can step its VRRP instances down.
type StepDowner interface {
	StatusSource
	StepDown(ctx context.Context, name string, d time.Duration) error
}

// ErrNoVRRP is what StepDownFor's function returns when the daemon runs
// no VRRP instance.
var ErrNoVRRP = errors.New("VRRP is not available: this lvsd runs no vrrp_instance, so there is nothing to fail over")

// StepDownFor makes Options.StepDown of a director: a name is an instance
// or a sync group (all its instances); no name means every instance that
// is MASTER now. It returns the instances stepped down.
func StepDownFor(d StepDowner) func(context.Context, string, time.Duration) ([]string, error) {
	return func(ctx context.Context, name string, hold time.Duration) ([]string, error) {
		st := d.Status()
		if len(st.VRRP) == 0 {
			return nil, ErrNoVRRP
		}
		var names []string
		if name != "" {
			for _, in := range st.VRRP {
				if in.Name == name || in.SyncGroup == name {
					names = append(names, in.Name)
				}
			}
			if err := d.StepDown(ctx, name, hold); err != nil {
				if errors.Is(err, director.ErrNotFound) {
					return nil, fmt.Errorf("%w %q (this node has %s)", ErrNoInstance, name, instanceNames(st))
				}
				return nil, err
			}
			return names, nil
		}
		// Sync group members step down with their group: once per group.
		done := map[string]bool{}
		for _, in := range st.VRRP {
			if in.State != "MASTER" {
				continue
			}
			target := in.Name
			if in.SyncGroup != "" {
				target = in.SyncGroup
			}
			if !done[target] {
				if err := d.StepDown(ctx, target, hold); err != nil {
					return names, fmt.Errorf("step down %s: %w", target, err)
				}
				done[target] = true
			}
			names = append(names, in.Name)
		}
		return names, nil
	}
}

func instanceNames(st director.Status) string {
	var out []string
	for _, in := range st.VRRP {
		out = append(out, in.Name)
	}
	for _, g := range st.VRRPGroups {
		out = append(out, g.Name+" (sync group)")
	}
	return strings.Join(out, ", ")
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
