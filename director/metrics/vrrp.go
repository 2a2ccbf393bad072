package metrics

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/lvsd/lvsd/director"
)

// VRRP metrics, one set per vrrp_instance.
var (
	descVRRPState      = desc("lvsd_vrrp_state", "The instance's state, one series per state, 1 for the current one: init, backup, master, fault.", "instance", "vrid", "state")
	descVRRPPriority   = desc("lvsd_vrrp_priority", "The instance's configured priority.", "instance", "vrid")
	descVRRPEffective  = desc("lvsd_vrrp_effective_priority", "The priority the instance advertises after tracking.", "instance", "vrid")
	descVRRPTrans      = desc("lvsd_vrrp_transitions_total", "State transitions of the instance.", "instance", "vrid")
	descVRRPSent       = desc("lvsd_vrrp_adverts_sent_total", "VRRP adverts sent (one per destination).", "instance", "vrid")
	descVRRPSendErrs   = desc("lvsd_vrrp_advert_send_errors_total", "VRRP adverts the kernel refused to send.", "instance", "vrid")
	descVRRPReceived   = desc("lvsd_vrrp_adverts_received_total", "VRRP adverts received and accepted.", "instance", "vrid")
	descVRRPDropped    = desc("lvsd_vrrp_adverts_dropped_total", "VRRP adverts received and dropped, by reason (ttl, checksum, auth_data, vrid, ...).", "instance", "vrid", "reason")
	descVRRPPrioZeroRx = desc("lvsd_vrrp_priority_zero_received_total", "Priority 0 adverts received (a master stepping down).", "instance", "vrid")
	descVRRPPrioZeroTx = desc("lvsd_vrrp_priority_zero_sent_total", "Priority 0 adverts sent (stepping down).", "instance", "vrid")
)

var vrrpDescs = []*prometheus.Desc{
	descVRRPState, descVRRPPriority, descVRRPEffective, descVRRPTrans, descVRRPSent, descVRRPSendErrs,
	descVRRPReceived, descVRRPDropped, descVRRPPrioZeroRx, descVRRPPrioZeroTx,
}

// collectVRRP exports the VRRP instances of the snapshot.
func collectVRRP(ds *director.Status, gauge, counter func(*prometheus.Desc, float64, ...string)) {
	// This build's director runs no VRRP: nothing to export.
	_ = ds
}
