package director

import (
	"maps"
	"slices"
	"strings"

	"github.com/sirupsen/logrus"

	"github.com/lvsd/lvsd/internal/ratelog"
	"github.com/lvsd/lvsd/ipvs"
	"github.com/lvsd/lvsd/vrrp"
)

// kernelExtras is what lvsd sets in the kernel besides the IPVS table:
// the connection timeouts and the connection sync daemons (the `ipvs`
// block's timeouts and sync_daemon). *ipvs.Kernel has it; with a backend
// that has not (the tests' ipvs.Memory) both are skipped.
type kernelExtras interface {
	Timeouts() (ipvs.Timeouts, error)
	SetTimeouts(ipvs.Timeouts) error
	Daemons() ([]ipvs.Daemon, error)
	StartDaemon(ipvs.Daemon) error
	StopDaemon(ipvs.DaemonState) error
}

// wantedDaemons is the sync daemons the configuration asks for now. A
// daemon that follows a VRRP instance follows its role as keepalived's
// lvs_sync_daemon does: the master daemon while the instance is MASTER
// (master is true), the backup daemon otherwise (BACKUP, FAULT, not
// running), never both: a node receives state while it is a backup, which
// is also what a returning node is before it takes over.
func wantedDaemons(sd *SyncDaemon, master bool) map[ipvs.DaemonState]ipvs.Daemon {
	if sd == nil {
		return nil
	}
	base := ipvs.Daemon{Interface: sd.Interface, SyncID: uint32(sd.SyncID), MaxLen: sd.MaxLen, Group: sd.Group, Port: sd.Port, TTL: sd.TTL}
	var states []ipvs.DaemonState
	switch sd.Role {
	case SyncMaster:
		states = []ipvs.DaemonState{ipvs.DaemonMaster}
	case SyncBackup:
		states = []ipvs.DaemonState{ipvs.DaemonBackup}
	case SyncBoth:
		states = []ipvs.DaemonState{ipvs.DaemonMaster, ipvs.DaemonBackup}
	case SyncFollow:
		states = []ipvs.DaemonState{ipvs.DaemonBackup}
		if master {
			states = []ipvs.DaemonState{ipvs.DaemonMaster}
		}
	}
	out := map[ipvs.DaemonState]ipvs.Daemon{}
	for _, s := range states {
		d := base
		d.State = s
		out[s] = d
	}
	return out
}

// sameDaemon reports whether the running daemon have is the configured
// want; settings left to the kernel's default are not compared.
func sameDaemon(want, have ipvs.Daemon) bool {
	return want.Interface == have.Interface && want.SyncID == have.SyncID &&
		(want.MaxLen == 0 || want.MaxLen == have.MaxLen) &&
		(!want.Group.IsValid() || want.Group == have.Group) &&
		(want.Port == 0 || want.Port == have.Port) &&
		(want.TTL == 0 || want.TTL == have.TTL)
}

// syncExtras makes the kernel's timeouts and sync daemons what the
// configuration (and, for a sync daemon that follows one, a VRRP
// instance's state) says. why is "start", "reload", "vrrp" (a followed
// instance changed state) or a full sync's reason; a difference found by a
// periodic sync is drift (someone ran ipvsadm --set or --stop-daemon) and
// logged as such. A sync daemon lvsd started (or
// found running as configured) is stopped when the configuration drops it;
// one it never had is left alone.
func (d *Director) syncExtras(why string) {
	k, ok := d.backend.(kernelExtras)
	if !ok {
		return
	}
	cfg := d.st.cfg.IPVS
	drift := why != "start" && why != "reload" && why != "vrrp"
	log := d.log.WithField("why", why)

	if t := cfg.Timeouts; t != nil {
		want := ipvs.Timeouts{TCP: t.TCP, TCPFin: t.TCPFin, UDP: t.UDP}
		cur, err := k.Timeouts()
		switch {
		case err != nil:
			ratelog.Warn(log.WithError(err), "cannot read the IPVS connection timeouts")
		case (want.TCP != 0 && want.TCP != cur.TCP) || (want.TCPFin != 0 && want.TCPFin != cur.TCPFin) || (want.UDP != 0 && want.UDP != cur.UDP):
			d.st.sync.Writes++
			f := logrus.Fields{"tcp": want.TCP.String(), "tcp_fin": want.TCPFin.String(), "udp": want.UDP.String()}
			if err := k.SetTimeouts(want); err != nil {
				ratelog.Error(log.WithError(err), "cannot set the IPVS connection timeouts")
			} else if drift {
				d.st.sync.DriftRepairs++
				log.WithFields(f).WithField("were", cur).Warn("IPVS connection timeouts drifted from the configuration; restored")
			} else {
				log.WithFields(f).Info("IPVS connection timeouts set")
			}
		}
	}

	master := false
	if sd := cfg.SyncDaemon; sd != nil && sd.Role == SyncFollow {
		master = d.vrrp.state(sd.VRRPInstance) == vrrp.Master
		log = log.WithFields(logrus.Fields{"vrrp_instance": sd.VRRPInstance, "vrrp_state": d.vrrp.state(sd.VRRPInstance).String()})
	}
	want := wantedDaemons(cfg.SyncDaemon, master)
	if len(want) == 0 && len(d.st.daemons) == 0 {
		return
	}
	list, err := k.Daemons()
	if err != nil {
		ratelog.Warn(log.WithError(err), "cannot list the IPVS sync daemons")
		return
	}
	running := map[ipvs.DaemonState]ipvs.Daemon{}
	for _, r := range list {
		running[r.State] = r
	}
	// A role change of the followed instance stops one daemon and starts
	// the other: one log line says so, not a start and a stop.
	follow := cfg.SyncDaemon != nil && cfg.SyncDaemon.Role == SyncFollow
	var switchedOn, switchedOff []string
	var switchFields logrus.Fields
	for _, state := range slices.Sorted(maps.Keys(want)) {
		w := want[state]
		r, isRunning := running[state]
		f := logrus.Fields{"state": state.String(), "interface": w.Interface, "sync_id": w.SyncID}
		if isRunning && sameDaemon(w, r) {
			if follow && !d.st.daemons[state] && why == "vrrp" {
				// Left running by a previous run, taken over now.
				switchedOn, switchFields = append(switchedOn, state.String()), f
			}
			d.st.daemons[state] = true
			continue
		}
		if isRunning {
			d.st.sync.Writes++
			if err := k.StopDaemon(state); err != nil {
				ratelog.Error(log.WithError(err).WithFields(f), "cannot stop the IPVS sync daemon to restart it with the configured settings")
				continue
			}
		}
		d.st.sync.Writes++
		if err := k.StartDaemon(w); err != nil {
			ratelog.Error(log.WithError(err).WithFields(f), "cannot start the IPVS sync daemon")
			continue
		}
		d.st.daemons[state] = true
		switch {
		case drift:
			d.st.sync.DriftRepairs++
			log.WithFields(f).Warn("IPVS sync daemon was stopped or changed behind lvsd's back; restarted")
		case isRunning:
			log.WithFields(f).Info("IPVS sync daemon restarted with the configured settings")
		case follow:
			switchedOn, switchFields = append(switchedOn, state.String()), f
		default:
			log.WithFields(f).Info("IPVS sync daemon started")
		}
	}
	for state := range d.st.daemons {
		if _, ok := want[state]; ok {
			continue
		}
		delete(d.st.daemons, state)
		if _, ok := running[state]; !ok {
			continue
		}
		d.st.sync.Writes++
		if err := k.StopDaemon(state); err != nil {
			log.WithError(err).WithField("state", state.String()).Error("cannot stop the IPVS sync daemon")
			continue
		}
		if follow {
			switchedOff = append(switchedOff, state.String())
		} else {
			log.WithField("state", state.String()).Info("IPVS sync daemon stopped (no longer configured)")
		}
	}
	switch {
	case len(switchedOn) > 0 && len(switchedOff) > 0:
		log.WithFields(switchFields).WithField("was", strings.Join(switchedOff, ",")).Info("IPVS sync daemon switched with the followed VRRP instance")
	case len(switchedOn) > 0:
		log.WithFields(switchFields).Info("IPVS sync daemon started")
	case len(switchedOff) > 0:
		log.WithField("state", strings.Join(switchedOff, ",")).Info("IPVS sync daemon stopped (the followed VRRP instance changed role)")
	}
}

// stopDaemons stops the sync daemons lvsd runs (remove_on_stop).
func (d *Director) stopDaemons() {
	k, ok := d.backend.(kernelExtras)
	if !ok {
		return
	}
	for _, state := range slices.Sorted(maps.Keys(d.st.daemons)) {
		if err := k.StopDaemon(state); err != nil {
			d.log.WithError(err).WithField("state", state.String()).Warn("stopping: cannot stop the IPVS sync daemon")
		}
	}
}
