package director

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"time"

	"github.com/lvsd/lvsd/checkers/hook"
	"github.com/lvsd/lvsd/vrrp"
)

// This file maps the configuration onto the vrrp package and decides what a
// reload does to each running VRRP instance; vrrp_run.go runs them.

// vsTrackKey is the tracking key of a virtual server's quorum state.
func vsTrackKey(vs string) string { return "vs:" + vs }

// vrrpConfig is the vrrp.Config of instance vi (without the functions the
// subsystem adds to run hooks).
func vrrpConfig(cfg *Config, vi *VRRPInstance) vrrp.Config {
	c := vrrp.Config{
		Name:           vi.Name,
		Interface:      vi.Interface,
		VRID:           vi.VRID,
		Priority:       vi.Priority,
		Version:        uint8(vi.Version),
		AdvertInterval: vi.AdvertInterval,
		// The owner always preempts (config.md warns about preempt = false
		// with priority 255), and a delay means nothing without preemption.
		NoPreempt:  !vi.Preempt && vi.Priority != 255,
		SourceAddr: vi.UnicastSource,
		Peers:      slices.Clone(vi.UnicastPeers),
		Group:      vi.MulticastGroup,
		AuthPass:   vi.AuthPass,
		GARP:       vrrpGARP(vi.GratuitousARP),
		Notify:     vrrpNotify(cfg, vi.Notify),
	}
	if vi.Preempt {
		c.PreemptDelay = vi.PreemptDelay
	}
	for _, va := range vi.VirtualAddresses {
		c.VIPs = append(c.VIPs, vrrp.VIP{Prefix: va.Prefix, Device: va.Interface, Excluded: va.Excluded})
	}
	// keepalived's rule: the tracking weights of a sync group's members
	// are 0 (a failure faults the member, and the group follows), because
	// a weight moves one member only and the group holds it back
	// (config.md warns about them).
	grouped := vi.SyncGroup != ""
	weight := func(w int) int {
		if grouped {
			return 0
		}
		return w
	}
	for _, t := range vi.TrackInterfaces {
		c.Track = append(c.Track, vrrp.Track{Kind: vrrp.TrackInterface, Name: t.Name, Weight: weight(t.Weight), Reverse: t.Reverse})
	}
	for _, t := range vi.TrackScripts {
		c.Track = append(c.Track, vrrp.Track{Kind: vrrp.TrackScript, Name: t.Name, Weight: weight(t.Weight), Reverse: t.Reverse})
	}
	for _, t := range vi.TrackVirtualServers {
		c.Track = append(c.Track, vrrp.Track{Kind: vrrp.TrackExternal, Name: vsTrackKey(t.Name), Weight: weight(t.Weight), Reverse: t.Reverse})
	}
	return c
}

// vrrpGARP maps the gratuitous_arp settings (defaults applied by the
// decoder) onto the vrrp package's, whose zero values mean "default".
func vrrpGARP(g GratuitousARP) vrrp.GARPConfig {
	out := vrrp.GARPConfig{
		Repeat:        g.Count,
		Interval:      g.Interval,
		Delay:         g.SecondBurstDelay,
		Refresh:       g.RefreshInterval,
		RefreshRepeat: g.RefreshCount,
	}
	if out.Delay == 0 {
		out.Delay = -1 // "0s": no second burst
	}
	return out
}

// vrrpNotify maps notify blocks onto vrrp.Notify. The vrrp package has one
// time limit per instance: the longest of the hooks'.
func vrrpNotify(cfg *Config, n VRRPNotify) vrrp.Notify {
	out := vrrp.Notify{Env: []string{"LVSD_NODE=" + cfg.NodeName}}
	for _, h := range []struct {
		hook *Hook
		argv *[]string
	}{{n.Master, &out.Master}, {n.Backup, &out.Backup}, {n.Fault, &out.Fault}, {n.Stop, &out.Stop}, {n.Any, &out.Any}} {
		if h.hook == nil {
			continue
		}
		*h.argv = slices.Clone(h.hook.Command)
		out.Timeout = max(out.Timeout, h.hook.Timeout)
	}
	if out.Timeout == 0 {
		out.Timeout = DefaultHookTimeout
	}
	return out
}

// runVRRPHook runs a VRRP notify hook as the director runs its own: in a
// process group of its own, killed with it at the time limit.
func runVRRPHook(ctx context.Context, argv, env []string) error {
	res := hook.Run(ctx, hook.Command{Path: argv[0], Args: argv[1:], Env: env})
	if !res.OK() {
		return errors.New(res.String())
	}
	return nil
}

// vrrpScriptConfig maps a vrrp_script onto vrrp.ScriptConfig, run through
// the hook package (process group, user).
func vrrpScriptConfig(s *VRRPScript, initFail bool) (vrrp.ScriptConfig, error) {
	c := vrrp.ScriptConfig{
		Name:     s.Name,
		Command:  slices.Clone(s.Command),
		Interval: s.Interval,
		Timeout:  s.Timeout,
		Rise:     s.Rise,
		Fall:     s.Fall,
		InitFail: initFail,
	}
	cmd := hook.Command{Path: s.Command[0], Args: s.Command[1:]}
	if s.User != "" {
		cred, err := hook.LookupUser(s.User)
		if err != nil {
			return c, fmt.Errorf("vrrp_script %q: %w", s.Name, err)
		}
		cmd.Credential = cred
	}
	c.Exec = func(ctx context.Context, _ []string) error {
		res := hook.Run(ctx, cmd)
		if !res.OK() {
			return errors.New(res.String())
		}
		return nil
	}
	return c, nil
}

// sameScript reports whether two vrrp_script blocks run the same command
// the same way (their source positions aside).
func sameScript(a, b *VRRPScript) bool {
	x, y := *a, *b
	x.DefRange = y.DefRange
	return reflect.DeepEqual(x, y)
}

// vrrpChange is what a reload does to a running instance or sync group.
type vrrpChange int

const (
	// vrrpKeep: nothing changed; it runs on untouched.
	vrrpKeep vrrpChange = iota
	// vrrpPriority: only the configured priority changed (and neither
	// side is the owner's 255); applied live with Instance.SetPriority.
	vrrpPriority
	// vrrpReplace: other settings changed; new instances replace the
	// running ones and take up their state (Detach, Resume): a master
	// stays master, its addresses stay in place, nobody is elected.
	vrrpReplace
	// vrrpRestart: the virtual router itself changed (interface, VRID,
	// version, address family): the old one stops as on shutdown
	// (priority 0 advert, handover) and a new one starts as backup. For a
	// unit (classifyUnit) it means the unit is built anew because its
	// members changed; each member is then replaced or restarted by its
	// own classifyVRRP.
	vrrpRestart
)

func (c vrrpChange) String() string {
	return [...]string{"unchanged", "priority changed live", "replaced in place", "restarted"}[c]
}

// classifyVRRP says what to do with a running instance whose configuration
// was old and is now new.
func classifyVRRP(old, new vrrp.Config) vrrpChange {
	switch {
	case old.Interface != new.Interface || old.VRID != new.VRID || old.Version != new.Version || old.IPv6() != new.IPv6():
		return vrrpRestart
	case reflect.DeepEqual(old, new):
		return vrrpKeep
	}
	o, n := old, new
	o.Priority = n.Priority
	if reflect.DeepEqual(o, n) && old.Priority != 255 && new.Priority != 255 {
		return vrrpPriority
	}
	return vrrpReplace
}

// classifyUnit combines the members' changes: the most disruptive wins,
// and a sync group whose membership or hooks changed is replaced as a
// whole.
func classifyUnit(old, new []vrrp.Config, oldGroup, newGroup *vrrp.SyncGroupConfig) vrrpChange {
	if len(old) != len(new) {
		return vrrpRestart
	}
	worst := vrrpKeep
	for i := range old {
		if old[i].Name != new[i].Name {
			return vrrpRestart
		}
		worst = max(worst, classifyVRRP(old[i], new[i]))
	}
	if (oldGroup == nil) != (newGroup == nil) {
		return vrrpRestart
	}
	if oldGroup != nil && !reflect.DeepEqual(*oldGroup, *newGroup) {
		worst = max(worst, vrrpReplace)
	}
	return worst
}

// vrrpRetry is the backoff between attempts to run an instance whose
// socket failed or could not be opened: 1s, doubling, at most 30s.
func vrrpRetry(failures int) time.Duration {
	d := time.Second
	for i := 1; i < failures && d < 30*time.Second; i++ {
		d *= 2
	}
	return min(d, 30*time.Second)
}
