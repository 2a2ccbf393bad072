package director

import (
	"fmt"
	"strings"

	"github.com/lvsd/lvsd/ipvs"
)

// The desired IPVS table is a pure function of the configuration, the
// health of the real servers, the operators' overrides and the quorum state
// of each virtual server. The Director keeps those inputs in its event
// loop, recomputes the part an event touched, and hands it to the
// Reconciler. Everything in this file is free of I/O and time.

// Override is an operator's runtime setting for one real server. It
// survives reloads until it is cleared.
type Override string

const (
	// OverrideNone lets health decide (`lvsd enable` clears an override).
	OverrideNone Override = ""
	// OverrideDrain keeps the real server in the table at weight 0: its
	// established connections go on, it gets no new ones.
	OverrideDrain Override = "drain"
	// OverrideDisable takes the real server out of the table as a failed
	// check does: weight 0 at once, deleted when its connections end or
	// its virtual server's drain_timeout passes (inhibit_on_failure does
	// not keep a disabled server).
	OverrideDisable Override = "disable"
)

// ParseOverride reads an override as the control API and the CLI spell
// it: "drain", "disable", and "enable" (or "") for none.
func ParseOverride(s string) (Override, error) {
	switch strings.ToLower(s) {
	case "drain":
		return OverrideDrain, nil
	case "disable":
		return OverrideDisable, nil
	case "enable", "", "none":
		return OverrideNone, nil
	}
	return "", fmt.Errorf("unknown override %q (want drain, disable or enable)", s)
}

func (o Override) String() string {
	if o == OverrideNone {
		return "none"
	}
	return string(o)
}

// Health is what the checks say about one real server. The zero value is
// down; a real server without checks is always Health{Up: true}.
type Health struct {
	Up bool
	// Dynamic is set when an exec check with dynamic_weight asked for
	// Weight; otherwise the configured weight applies.
	Dynamic bool
	Weight  uint32
}

// Inputs is what the desired table depends on besides the configuration.
// A real server missing from Health is up at its configured weight (it
// has no checks); a virtual server missing from QuorumUp has the quorum
// state its up weight gives it without hysteresis.
type Inputs struct {
	Health    map[string]Health   // by real server ID ("web/web1")
	Overrides map[string]Override // by real server ID
	QuorumUp  map[string]bool     // by virtual server name
}

func (in Inputs) health(rs *RealServer) Health {
	if h, ok := in.Health[rs.ID]; ok {
		return h
	}
	return Health{Up: true}
}

// ServingWeight is the weight rs takes traffic with while it is up: its
// configured weight, or the one its exec check set, or 0 while an operator
// drains or disables it. Quorum counts this weight.
func ServingWeight(rs *RealServer, h Health, o Override) uint32 {
	switch {
	case !h.Up || o == OverrideDrain || o == OverrideDisable:
		return 0
	case h.Dynamic:
		return h.Weight
	}
	return rs.Weight
}

// WeightUp is the sum of the serving weights of vs's real servers that
// are up, which quorum is compared with.
func WeightUp(vs *VirtualServer, in Inputs) uint64 {
	var sum uint64
	for _, rs := range vs.RealServers {
		sum += uint64(ServingWeight(rs, in.health(rs), in.Overrides[rs.ID]))
	}
	return sum
}

// QuorumAfter is vs's quorum state for weightUp, given the state before:
// an up virtual server goes down below Quorum; a down one comes back at
// Quorum + Hysteresis.
func QuorumAfter(vs *VirtualServer, weightUp uint64, wasUp bool) bool {
	if wasUp {
		return weightUp >= uint64(vs.Quorum)
	}
	return weightUp >= uint64(vs.Quorum)+uint64(vs.Hysteresis)
}

// QuorumUp is vs's quorum state in in.
func QuorumUp(vs *VirtualServer, in Inputs) bool {
	if up, ok := in.QuorumUp[vs.Name]; ok {
		return up
	}
	return WeightUp(vs, in) >= uint64(vs.Quorum)
}

// SorryActive reports whether vs's sorry server takes the traffic: vs has
// one and is below quorum.
func SorryActive(vs *VirtualServer, in Inputs) bool {
	return vs.SorryServer != nil && !QuorumUp(vs, in)
}

// Placement says whether rs is in the kernel table and at which weight.
//
//   - disabled by an operator: out (drained by the Reconciler);
//   - down: at weight 0 with inhibit_on_failure, else out;
//   - drained by an operator: weight 0;
//   - up while the sorry server takes the traffic: weight 0, so its
//     established connections go on and quorum coming back restores it
//     with one weight update (keepalived deletes such servers);
//   - up: its serving weight.
func Placement(rs *RealServer, h Health, o Override, sorryActive bool) (weight uint32, inTable bool) {
	switch {
	case o == OverrideDisable:
		return 0, false
	case !h.Up:
		return 0, rs.InhibitOnFailure
	case o == OverrideDrain, sorryActive:
		return 0, true
	}
	return ServingWeight(rs, h, o), true
}

// DesiredServices is the part of the desired table vs declares: one
// kernel service per address (or its firewall mark), each with the real
// servers Placement keeps and, below quorum, the sorry server at weight 1
// (at weight 0 while unused when it is inhibited; a real server at the
// same address wins then).
func DesiredServices(vs *VirtualServer, in Inputs) []ipvs.VirtualService {
	sorry := SorryActive(vs, in)
	out := make([]ipvs.VirtualService, 0, len(vs.Services))
	for _, key := range vs.Services {
		svc := vs.IPVSService(key)
		svc.DrainTimeout = vs.DrainTimeout
		v := ipvs.VirtualService{Service: svc, Destinations: make([]ipvs.Destination, 0, len(vs.RealServers)+1)}
		for _, rs := range vs.RealServers {
			w, ok := Placement(rs, in.health(rs), in.Overrides[rs.ID], sorry)
			if !ok {
				continue
			}
			d := rs.Destination(key)
			d.Weight = w
			v.Destinations = append(v.Destinations, d)
		}
		if s := vs.SorryServer; s != nil && (sorry || s.Inhibit) {
			d := s.Destination(key)
			i := -1
			for j, o := range v.Destinations {
				if o.Addr == d.Addr {
					i = j
				}
			}
			switch {
			case sorry && i >= 0:
				v.Destinations[i] = d
			case sorry:
				v.Destinations = append(v.Destinations, d)
			case i < 0:
				d.Weight = 0
				v.Destinations = append(v.Destinations, d)
			}
		}
		out = append(out, v)
	}
	return out
}

// Desired is the whole desired IPVS table for cfg.
func Desired(cfg *Config, in Inputs) ipvs.Table {
	var t ipvs.Table
	for _, vs := range cfg.VirtualServers {
		for _, v := range DesiredServices(vs, in) {
			t.Put(v)
		}
	}
	return t
}
