package vrrp

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/sirupsen/logrus"
)

// SyncGroupConfig is keepalived's vrrp_sync_group: instances that move
// together.
type SyncGroupConfig struct {
	Name   string
	Notify Notify // runs with GROUP as the kind argument
	// TrackingWeights keeps the members' tracking weights. By default they
	// are set to 0 (a failure means Fault), as keepalived does, because
	// members whose priorities drift apart on different nodes re-elect
	// forever (keepalived's sync_group_tracking_weight turns this off).
	TrackingWeights bool
}

// SyncGroup makes its member instances move together, with keepalived's
// rules: a member becomes Master only when every member wants to (prefer
// Backup, avoid thrashing); when one leaves Master the others step down;
// when one faults the others fault too.
type SyncGroup struct {
	cfg     SyncGroupConfig
	log     *logrus.Entry
	members []*Instance
	notif   *notifier
	sf      *StateFile

	mu     sync.Mutex
	snaps  map[*Instance]memberSnap
	holds  map[*Instance]bool
	faults map[*Instance]string
	state  State
}

type memberSnap struct {
	state      State
	wantMaster bool
	ownFault   string
}

// NewSyncGroup binds members (at least two, none running yet) into a group.
func NewSyncGroup(cfg SyncGroupConfig, log *logrus.Entry, sf *StateFile, members ...*Instance) (*SyncGroup, error) {
	if len(members) < 2 {
		return nil, fmt.Errorf("vrrp sync group %q: needs at least two instances", cfg.Name)
	}
	if log == nil {
		log = logrus.NewEntry(logrus.StandardLogger())
	}
	if cfg.Notify.Timeout == 0 {
		cfg.Notify.Timeout = 30 * time.Second
	}
	g := &SyncGroup{
		cfg:     cfg,
		log:     log.WithFields(logrus.Fields{"component": "vrrp", "sync_group": cfg.Name}),
		members: members,
		sf:      sf,
		snaps:   map[*Instance]memberSnap{},
		holds:   map[*Instance]bool{},
		faults:  map[*Instance]string{},
	}
	g.notif = newNotifier(cfg.Notify, "GROUP", cfg.Name, 0, g.log)
	var errs []error
	for _, m := range members {
		m.mu.Lock()
		running := m.running
		m.mu.Unlock()
		switch {
		case running:
			errs = append(errs, fmt.Errorf("vrrp sync group %q: instance %q already runs", cfg.Name, m.Name()))
			continue
		case m.group != nil:
			errs = append(errs, fmt.Errorf("vrrp sync group %q: instance %q is in sync group %q", cfg.Name, m.Name(), m.group.cfg.Name))
			continue
		}
		if !cfg.TrackingWeights {
			for _, o := range m.tracks.objs {
				if o.Weight != 0 {
					g.log.WithFields(logrus.Fields{"instance": m.Name(), "track": o.Key(), "weight": o.Weight}).
						Warn("tracking weight set to 0 in a sync group: a failure means fault")
					o.Weight = 0
				}
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	// Members that replace the members of a running group (a reload, see
	// Instance.Resume) take up its state: the group starts in it, and
	// resumed masters are not held back (the first reports hold them if
	// the others do not follow).
	var resumed []State
	for _, m := range members {
		m.mu.Lock()
		if m.resume != nil {
			resumed = append(resumed, m.resume.State)
		}
		m.mu.Unlock()
	}
	if len(resumed) == len(members) {
		switch {
		case slices.Contains(resumed, Fault):
			g.state = Fault
		case allEqual(resumed, Master):
			g.state = Master
		case allEqual(resumed, Backup):
			g.state = Backup
		}
		if g.state != Init && sf != nil {
			if err := sf.Set("GROUP", cfg.Name, g.state.String(), 0, time.Now()); err != nil {
				g.log.WithError(err).Warn("state file")
			}
		}
	}
	for _, m := range members {
		m.group = g
		m.mu.Lock()
		r := m.resume
		m.mu.Unlock()
		if r != nil {
			// What the member will report once it runs, so that a member
			// that runs first does not see the others as not ready.
			g.snaps[m] = memberSnap{state: r.State, wantMaster: r.State == Master}
		}
		if r != nil && r.State == Master {
			continue
		}
		// Nobody wants Master yet: hold everyone until all do.
		g.holds[m] = true
		m.setHold(true)
	}
	return g, nil
}

// Run runs the group's notify hooks until ctx ends.
func (g *SyncGroup) Run(ctx context.Context) { g.notif.loop(ctx) }

// Name is the group's name.
func (g *SyncGroup) Name() string { return g.cfg.Name }

// State is the group's state: MASTER or BACKUP when all members are, FAULT
// when any is; otherwise the last of those.
func (g *SyncGroup) State() State {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.state
}

// report is called by a member's goroutine after each step.
func (g *SyncGroup) report(i *Instance, s memberSnap) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if old, ok := g.snaps[i]; ok && old == s {
		return
	}
	g.snaps[i] = s
	for _, m := range g.members {
		var faulty []string
		hold := false
		for _, n := range g.members {
			if n == m {
				continue
			}
			ns := g.snaps[n]
			if ns.ownFault != "" {
				faulty = append(faulty, n.Name())
			}
			if ns.state != Master && !ns.wantMaster {
				hold = true
			}
		}
		f := ""
		if len(faulty) > 0 {
			f = fmt.Sprintf("sync group %s: %s in fault", g.cfg.Name, strings.Join(faulty, ", "))
		}
		if f != g.faults[m] {
			g.faults[m] = f
			m.setGroupFault(f)
		}
		if hold != g.holds[m] {
			g.holds[m] = hold
			m.setHold(hold)
		}
	}
	g.updateState()
}

func (g *SyncGroup) updateState() {
	states := make([]State, 0, len(g.members))
	for _, m := range g.members {
		s, ok := g.snaps[m]
		if !ok {
			return
		}
		states = append(states, s.state)
	}
	next := g.state
	switch {
	case slices.Contains(states, Fault):
		next = Fault
	case allEqual(states, Master):
		next = Master
	case allEqual(states, Backup):
		next = Backup
	}
	if next == g.state {
		return
	}
	tr := Transition{From: g.state, To: next, Reason: ReasonSyncGroup, At: time.Now()}
	g.state = next
	g.log.WithFields(logrus.Fields{"state": next.String(), "from": tr.From.String()}).Info("sync group entering " + next.String())
	g.notif.notify(tr)
	if g.sf != nil {
		if err := g.sf.Set("GROUP", g.cfg.Name, next.String(), 0, tr.At); err != nil {
			g.log.WithError(err).Warn("state file")
		}
	}
}

func allEqual(s []State, v State) bool {
	for _, x := range s {
		if x != v {
			return false
		}
	}
	return len(s) > 0
}
