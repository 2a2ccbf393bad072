package ipvs

import (
	"fmt"
	"net/netip"
	"time"
)

// Timeouts are the kernel's IPVS connection timeouts (`ipvsadm --set tcp
// tcpfin udp`): how long an idle established TCP connection, a TCP
// connection after its FIN, and a UDP "connection" stay in the table.
// Whole seconds. A zero field read back means the kernel's value was 0;
// given to SetTimeouts it leaves that timeout as it is.
type Timeouts struct {
	TCP    time.Duration
	TCPFin time.Duration
	UDP    time.Duration
}

// DaemonState is the role of a connection sync daemon, as the kernel's
// IP_VS_STATE_*.
type DaemonState uint32

const (
	DaemonMaster DaemonState = 1 // sends the connection table
	DaemonBackup DaemonState = 2 // receives it
)

func (s DaemonState) String() string {
	switch s {
	case DaemonMaster:
		return "master"
	case DaemonBackup:
		return "backup"
	}
	return fmt.Sprintf("state(%d)", uint32(s))
}

// Daemon is a kernel connection sync daemon: the master multicasts its
// IPVS connection entries so that a backup director holds them and
// established connections survive a failover. A network namespace runs at
// most one master and one backup. Zero values of the optional fields take
// the kernel's defaults, which a dump then reports.
type Daemon struct {
	State     DaemonState
	Interface string // multicast interface; needs an IPv4 address to send from
	SyncID    uint32 // 0..255; a backup only takes messages with its id
	// Optional.
	MaxLen uint16     // sync message payload size; default from the interface MTU
	Group  netip.Addr // multicast group; default 224.0.0.81
	Port   uint16     // UDP port; default 8848
	TTL    uint8      // default 1
}

// Validate checks d before it goes to the kernel.
func (d Daemon) Validate() error {
	where := fmt.Sprintf("sync daemon %s on %q", d.State, d.Interface)
	switch {
	case d.State != DaemonMaster && d.State != DaemonBackup:
		return fmt.Errorf("%s: state must be master or backup", where)
	case d.Interface == "":
		return fmt.Errorf("sync daemon %s: needs a multicast interface", d.State)
	case len(d.Interface) > maxIfName:
		return fmt.Errorf("%s: interface name longer than %d bytes", where, maxIfName)
	case d.SyncID > MaxSyncID:
		return fmt.Errorf("%s: sync id %d is out of range (0..%d)", where, d.SyncID, MaxSyncID)
	case d.Group.IsValid() && !d.Group.IsMulticast():
		return fmt.Errorf("%s: group %s is not a multicast address", where, d.Group)
	case d.Group.Is4In6() || d.Group.Zone() != "":
		return fmt.Errorf("%s: group %s: write a plain IPv4 or IPv6 group", where, d.Group)
	}
	return nil
}
