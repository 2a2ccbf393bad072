package metrics

import (
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/lvsd/lvsd/director"
	"github.com/lvsd/lvsd/vrrp"
)

// VRRP metrics, one set per vrrp_instance.
var (
	descVRRPState      = desc("lvsd_vrrp_state", "The instance's state, one series per state, 1 for the current one: init, backup, master, fault.", "vrrp_instance", "vrid", "state")
	descVRRPPriority   = desc("lvsd_vrrp_priority", "The instance's configured priority.", "vrrp_instance", "vrid")
	descVRRPEffective  = desc("lvsd_vrrp_effective_priority", "The priority the instance advertises after tracking.", "vrrp_instance", "vrid")
	descVRRPTrans      = desc("lvsd_vrrp_transitions_total", "State transitions of the instance.", "vrrp_instance", "vrid")
	descVRRPSent       = desc("lvsd_vrrp_adverts_sent_total", "VRRP adverts sent (one per destination).", "vrrp_instance", "vrid")
	descVRRPSendErrs   = desc("lvsd_vrrp_advert_send_errors_total", "VRRP adverts the kernel refused to send.", "vrrp_instance", "vrid")
	descVRRPReceived   = desc("lvsd_vrrp_adverts_received_total", "VRRP adverts received and accepted.", "vrrp_instance", "vrid")
	descVRRPDropped    = desc("lvsd_vrrp_adverts_dropped_total", "VRRP adverts received and dropped, by reason (ttl, checksum, auth_data, vrid, ...).", "vrrp_instance", "vrid", "reason")
	descVRRPPrioZeroRx = desc("lvsd_vrrp_priority_zero_received_total", "Priority 0 adverts received (a master stepping down).", "vrrp_instance", "vrid")
	descVRRPPrioZeroTx = desc("lvsd_vrrp_priority_zero_sent_total", "Priority 0 adverts sent (stepping down).", "vrrp_instance", "vrid")
)

var vrrpDescs = []*prometheus.Desc{
	descVRRPState, descVRRPPriority, descVRRPEffective, descVRRPTrans, descVRRPSent, descVRRPSendErrs,
	descVRRPReceived, descVRRPDropped, descVRRPPrioZeroRx, descVRRPPrioZeroTx,
}

// vrrpStates are the values of lvsd_vrrp_state's state label.
var vrrpStates = []string{"INIT", "BACKUP", "MASTER", "FAULT"}

// collectVRRP exports the VRRP instances of the snapshot.
func collectVRRP(ds *director.Status, gauge, counter func(*prometheus.Desc, float64, ...string)) {
	for _, in := range ds.VRRP {
		vrid := itoa(in.VRID)
		for _, st := range vrrpStates {
			gauge(descVRRPState, b2f(in.State == st), in.Name, vrid, strings.ToLower(st))
		}
		gauge(descVRRPPriority, float64(in.Priority), in.Name, vrid)
		gauge(descVRRPEffective, float64(in.EffectivePriority), in.Name, vrid)
		c := in.Counters
		counter(descVRRPTrans, float64(c.Transitions), in.Name, vrid)
		counter(descVRRPSent, float64(c.AdvertsSent), in.Name, vrid)
		counter(descVRRPSendErrs, float64(c.SendErrors), in.Name, vrid)
		counter(descVRRPReceived, float64(c.AdvertsReceived), in.Name, vrid)
		counter(descVRRPPrioZeroRx, float64(c.PriorityZeroReceived), in.Name, vrid)
		counter(descVRRPPrioZeroTx, float64(c.PriorityZeroSent), in.Name, vrid)
		// Every reason, zero or not, so that rate() sees the first drop.
		for r := range vrrp.NumDropReasons {
			reason := vrrp.DropReason(r)
			if reason == vrrp.DropNone {
				continue
			}
			counter(descVRRPDropped, float64(c.Dropped[reason.String()]), in.Name, vrid, reason.String())
		}
	}
}
