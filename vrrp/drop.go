package vrrp

import (
	"fmt"
	"sync/atomic"
)

// DropReason says why a received packet was not given to the state machine.
type DropReason uint8

const (
	DropNone       DropReason = iota
	DropTTL                   // IP TTL / hop limit is not 255
	DropLength                // shorter than a header, or length does not match the address count
	DropVersion               // not the instance's VRRP version
	DropType                  // not an advertisement
	DropVRID                  // another virtual router (normal on a shared group; counted, not logged)
	DropAddrCount             // address count differs from ours
	DropChecksum              // checksum (with the v3 pseudo-header) does not verify
	DropAuthType              // v2 authentication type differs from ours
	DropAuthData              // v2 password differs from ours
	DropInterval              // v2 advert interval differs from ours (RFC 3768 7.1), or is 0
	DropAddrList              // one of our virtual addresses is missing from the advert
	DropOwnAddress            // sent from one of this node's addresses (a loop, or a duplicate router)
	DropNotPeer               // unicast mode: the source is not a configured peer
	DropInterface             // arrived on another interface
	numDropReasons
)

// NumDropReasons is the number of DropReason values, for arrays indexed by
// reason.
const NumDropReasons = int(numDropReasons)

var dropNames = [...]string{
	DropNone:       "none",
	DropTTL:        "ttl",
	DropLength:     "length",
	DropVersion:    "version",
	DropType:       "type",
	DropVRID:       "vrid",
	DropAddrCount:  "addr_count",
	DropChecksum:   "checksum",
	DropAuthType:   "auth_type",
	DropAuthData:   "auth_data",
	DropInterval:   "interval",
	DropAddrList:   "addr_list",
	DropOwnAddress: "own_address",
	DropNotPeer:    "not_peer",
	DropInterface:  "interface",
}

// String is the reason's metric label, e.g. "checksum".
func (r DropReason) String() string {
	if int(r) < len(dropNames) {
		return dropNames[r]
	}
	return fmt.Sprintf("reason%d", uint8(r))
}

// DropError is the error for a packet that failed a check.
type DropError struct {
	Reason DropReason
	Detail string
}

func (e *DropError) Error() string { return "vrrp: dropped (" + e.Reason.String() + "): " + e.Detail }

func drop(r DropReason, format string, args ...any) *DropError {
	return &DropError{Reason: r, Detail: fmt.Sprintf(format, args...)}
}

// Counters are an instance's packet counters. All fields are safe to read
// while the instance runs.
type Counters struct {
	Sent     atomic.Uint64 // adverts sent (one per destination)
	SendErrs atomic.Uint64 // adverts the kernel refused
	Received atomic.Uint64 // adverts accepted and given to the state machine
	// IntervalMismatch counts accepted v3 adverts whose interval differs
	// from ours (allowed by RFC 5798: backups learn the master's).
	IntervalMismatch atomic.Uint64
	PriorityZeroRcvd atomic.Uint64
	PriorityZeroSent atomic.Uint64
	Dropped          [NumDropReasons]atomic.Uint64
}

// Stats is a snapshot of Counters.
type Stats struct {
	Sent, SendErrs, Received           uint64
	IntervalMismatch                   uint64
	PriorityZeroRcvd, PriorityZeroSent uint64
	// Dropped is indexed by DropReason.
	Dropped [NumDropReasons]uint64
}

// Snapshot copies the counters.
func (c *Counters) Snapshot() Stats {
	s := Stats{
		Sent:             c.Sent.Load(),
		SendErrs:         c.SendErrs.Load(),
		Received:         c.Received.Load(),
		IntervalMismatch: c.IntervalMismatch.Load(),
		PriorityZeroRcvd: c.PriorityZeroRcvd.Load(),
		PriorityZeroSent: c.PriorityZeroSent.Load(),
	}
	for i := range c.Dropped {
		s.Dropped[i] = c.Dropped[i].Load()
	}
	return s
}

// TotalDropped sums the drops over all reasons.
func (s Stats) TotalDropped() uint64 {
	var n uint64
	for _, v := range s.Dropped {
		n += v
	}
	return n
}
