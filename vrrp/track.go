package vrrp

import (
	"sort"
	"strings"
)

// trackSet turns the states of tracked objects into an effective priority
// and a fault, with keepalived's vrrp_script/track_interface semantics.
// Objects never reported count as up (keepalived starts scripts as up
// unless init_fail, which the Script runner reports at once).
type trackSet struct {
	base  uint8
	objs  map[string]*trackedObj
	order []string
}

type trackedObj struct {
	Track
	up bool
}

// TrackStatus is a tracked object's state as Status reports it.
type TrackStatus struct {
	Track
	Up bool
}

func newTrackSet(base uint8, tracks []Track) *trackSet {
	ts := &trackSet{base: base, objs: map[string]*trackedObj{}}
	for _, t := range tracks {
		k := t.Key()
		ts.objs[k] = &trackedObj{Track: t, up: true}
		ts.order = append(ts.order, k)
	}
	return ts
}

// set records an object's state; it reports whether the key is tracked
// and the state changed.
func (ts *trackSet) set(key string, up bool) bool {
	o, ok := ts.objs[key]
	if !ok || o.up == up {
		return false
	}
	o.up = up
	return true
}

// effective is the priority and, when some unweighted object is in its
// failing state, the fault with the names of the objects that cause it.
// The address owner's priority never moves, and tracking never lifts
// another router to 255 or drops it below 1 (keepalived's rules).
func (ts *trackSet) effective() (prio uint8, fault string) {
	delta := 0
	var faults []string
	for _, k := range ts.order {
		o := ts.objs[k]
		w := o.Weight
		if o.Reverse {
			w = -w
		}
		switch {
		case o.Weight == 0:
			// Unweighted: Fault while down (reverse: while up).
			if o.up == o.Reverse {
				faults = append(faults, k)
			}
		case o.Weight > 0 && o.up:
			delta += w
		case o.Weight < 0 && !o.up:
			delta += w
		}
	}
	sort.Strings(faults)
	fault = strings.Join(faults, ", ")
	if ts.base == 255 {
		return 255, fault
	}
	p := int(ts.base) + delta
	p = max(1, min(254, p))
	return uint8(p), fault
}

func (ts *trackSet) status() []TrackStatus {
	out := make([]TrackStatus, 0, len(ts.order))
	for _, k := range ts.order {
		o := ts.objs[k]
		out = append(out, TrackStatus{Track: o.Track, Up: o.up})
	}
	return out
}
