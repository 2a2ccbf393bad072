package ipvs

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	mobyipvs "github.com/moby/ipvs"
	"golang.org/x/sys/unix"
)

// Kernel is the Backend that programs the IPVS table of one network
// namespace. Ordinary writes go through github.com/moby/ipvs; the table
// dump, tunnel-typed real servers and the sync daemon go through lvsd's
// own generic netlink edge (genl_linux.go), and the real servers of IPv4
// services are read with IPVS's getsockopt interface (sockopt_linux.go),
// which is two orders of magnitude cheaper than a netlink dump per service.
// It is safe for concurrent use; calls are serialized.
type Kernel struct {
	mu     sync.Mutex
	nsPath string
	h      *mobyipvs.Handle
	nl     *genlConn    // writes, service dumps, sync daemon
	dl     *genlConn    // per-service destination dumps, with a small buffer
	so     *sockoptConn // nil if the kernel refused the sockopt interface
	writes atomic.Uint64
}

// destDumpBuffer is the receive buffer of the destination dump socket. The
// kernel sizes each dump's buffer after the reader's (up to 32 KiB): one
// page holds about 20 real servers and is measurably cheaper per dump than
// the 32 KiB a 64 KiB reader gets.
const destDumpBuffer = 4096

// New opens the IPVS table of the network namespace at netnsPath (a
// /run/netns/NAME bind mount, or /proc/PID/ns/net); "" is the current
// namespace.
func New(netnsPath string) (*Kernel, error) {
	where := netnsPath
	if where == "" {
		where = "the current network namespace"
	}
	// Our own socket first: it says clearly when the kernel has no IPVS,
	// before moby/ipvs caches a missing family id for the whole process.
	c, err := dialGenl(netnsPath)
	if err != nil {
		return nil, fmt.Errorf("open IPVS in %s: %w", where, err)
	}
	k := &Kernel{nsPath: netnsPath, nl: c}
	if k.dl, err = dialGenlBuf(netnsPath, destDumpBuffer); err != nil {
		k.Close()
		return nil, fmt.Errorf("open IPVS in %s: %w", where, err)
	}
	if k.so, err = dialSockopt(netnsPath); err != nil {
		k.Close()
		return nil, fmt.Errorf("open IPVS in %s: %w", where, err)
	}
	if k.h, err = mobyipvs.New(netnsPath); err != nil {
		k.Close()
		return nil, fmt.Errorf("open IPVS in %s: %w", where, err)
	}
	return k, nil
}

// Close releases the sockets.
func (k *Kernel) Close() error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.h != nil {
		k.h.Close()
		k.h = nil
	}
	for _, c := range []*genlConn{k.nl, k.dl} {
		if c != nil {
			c.close()
		}
	}
	k.so.close()
	k.nl, k.dl, k.so = nil, nil, nil
	return nil
}

// Writes is the number of write requests sent to the kernel so far (one per
// applied op, plus sync daemon starts and stops).
func (k *Kernel) Writes() uint64 { return k.writes.Load() }

// Dump reads the whole table in one pass: one generic-netlink dump of the
// services, then the real servers of each service. The table is the
// caller's. Real servers of IPv4 services come from getsockopt, whose
// connection and packet counters are 32 bits wide (bytes are 64);
// DumpCounters reads everything through netlink with 64-bit counters.
func (k *Kernel) Dump(ctx context.Context) (Table, error) { return k.dump(ctx, false) }

// DumpCounters is Dump through generic netlink only: 64-bit counters
// everywhere, at the cost of one netlink dump per service (for status and
// metrics, not for every sync).
func (k *Kernel) DumpCounters(ctx context.Context) (Table, error) { return k.dump(ctx, true) }

func (k *Kernel) dump(ctx context.Context, netlinkOnly bool) (Table, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.h == nil {
		return Table{}, fmt.Errorf("dump IPVS: backend closed")
	}
	t := Table{svcs: make(map[ServiceKey]*entry)}
	var order []*entry
	err := k.nl.ipvs(cmdGetService, unix.NLM_F_DUMP, nil, func(b []byte) error {
		s, st, err := parseServiceMsg(b)
		if err != nil {
			return err
		}
		e := &entry{svc: s, stats: st}
		if netlinkOnly || s.Family != IPv4 || k.so == nil {
			e.dests = map[netip.AddrPort]Destination{}
		}
		t.svcs[s.ServiceKey] = e
		order = append(order, e)
		return nil
	})
	if err != nil {
		return Table{}, fmt.Errorf("dump IPVS services: %w", err)
	}
	var (
		a       attrs
		scratch []Destination
	)
	for _, e := range order {
		if err := ctx.Err(); err != nil {
			return Table{}, fmt.Errorf("dump IPVS real servers: %w", err)
		}
		key := e.svc.ServiceKey
		if !netlinkOnly && key.Family == IPv4 && k.so != nil {
			ds, err := k.so.dests(key, scratch[:0])
			scratch = ds
			switch {
			case errors.Is(err, errServiceGone):
				delete(t.svcs, key)
				continue
			case err != nil:
				// A kernel without the old interface, or a surprise in
				// it: netlink reads everything from now on, only slower.
				k.so.close()
				k.so = nil
			case !slices.ContainsFunc(ds, func(d Destination) bool { return d.Forward == Tunnel }):
				e.dests = make(map[netip.AddrPort]Destination, len(ds))
				for _, d := range ds {
					e.dests[d.Addr] = d
				}
				continue
			}
			// Tunnel settings are only in the netlink answer.
			e.dests = map[netip.AddrPort]Destination{}
		}
		a.b = a.b[:0]
		serviceID(&a, key)
		err := k.dl.ipvs(cmdGetDest, unix.NLM_F_DUMP, a.b, func(b []byte) error {
			d, err := parseDestMsg(b, key.Family)
			if err != nil {
				return err
			}
			e.dests[d.Addr] = d
			return nil
		})
		if err != nil {
			return Table{}, fmt.Errorf("dump IPVS real servers of %s: %w", key, err)
		}
	}
	return t, nil
}

// Apply applies ops in order, one netlink write each. A failed op does not
// stop the rest; each failure comes back as an *OpError naming the op.
func (k *Kernel) Apply(ctx context.Context, ops []Op) []*OpError {
	k.mu.Lock()
	defer k.mu.Unlock()
	var errs []*OpError
	for _, op := range ops {
		if err := ctx.Err(); err != nil {
			errs = append(errs, &OpError{Op: op, Err: err})
			continue
		}
		if k.h == nil {
			errs = append(errs, &OpError{Op: op, Err: fmt.Errorf("backend closed")})
			continue
		}
		k.writes.Add(1)
		if err := k.apply(op); err != nil {
			if (op.Kind == AddService || op.Kind == UpdateService) && errors.Is(err, unix.ENOENT) {
				err = fmt.Errorf("scheduler %q is not in this kernel (module ip_vs_%s missing?): %w", op.Service.Scheduler, op.Service.Scheduler, err)
			}
			errs = append(errs, &OpError{Op: op, Err: err})
		}
	}
	return errs
}

func (k *Kernel) apply(op Op) error {
	svc := mobyService(op.Service)
	d := op.Destination
	switch op.Kind {
	case AddService:
		return k.h.NewService(svc)
	case UpdateService:
		return k.h.UpdateService(svc)
	case DeleteService:
		return k.h.DelService(svc)
	case AddDestination:
		if needsEdge(d) {
			return k.writeDest(cmdNewDest, op.Service.ServiceKey, d)
		}
		return k.h.NewDestination(svc, mobyDest(d))
	case UpdateDestination:
		if needsEdge(d) {
			return k.writeDest(cmdSetDest, op.Service.ServiceKey, d)
		}
		return k.h.UpdateDestination(svc, mobyDest(d))
	case DeleteDestination:
		return k.h.DelDestination(svc, mobyDest(d))
	}
	return fmt.Errorf("unknown operation kind %d", op.Kind)
}

// needsEdge reports whether d has settings moby/ipvs cannot send: a GUE or
// GRE tunnel, a tunnel port or checksum flags.
func needsEdge(d Destination) bool {
	return d.Forward == Tunnel && (d.TunnelType != TunnelIPIP || d.TunnelPort != 0 || d.TunnelChecksum != TunnelNoCsum)
}

func (k *Kernel) writeDest(cmd uint8, key ServiceKey, d Destination) error {
	var a attrs
	serviceID(&a, key)
	destFull(&a, d)
	return k.nl.ipvs(cmd, 0, a.b, nil)
}

func mobyService(s Service) *mobyipvs.Service {
	ms := &mobyipvs.Service{
		AddressFamily: uint16(s.Family),
		SchedName:     s.Scheduler,
		Flags:         serviceFlags(s),
		Timeout:       s.Persistence,
		Netmask:       netmaskValue(s),
	}
	if s.IsFWMark() {
		ms.FWMark = s.FWMark
	} else {
		ms.Protocol = uint16(s.Protocol)
		ms.Address = net.IP(s.Addr.Addr().AsSlice())
		ms.Port = s.Addr.Port()
	}
	return ms
}

func mobyDest(d Destination) *mobyipvs.Destination {
	return &mobyipvs.Destination{
		Address:         net.IP(d.Addr.Addr().AsSlice()),
		Port:            d.Addr.Port(),
		AddressFamily:   uint16(FamilyOf(d.Addr.Addr())),
		ConnectionFlags: uint32(d.Forward),
		Weight:          int(d.Weight),
		UpperThreshold:  d.UpperThreshold,
		LowerThreshold:  d.LowerThreshold,
	}
}

// Timeouts reads the kernel's connection timeouts (IPVS_CMD_GET_CONFIG).
func (k *Kernel) Timeouts() (Timeouts, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.h == nil {
		return Timeouts{}, fmt.Errorf("read IPVS timeouts: backend closed")
	}
	c, err := k.h.GetConfig()
	if err != nil {
		return Timeouts{}, fmt.Errorf("read IPVS timeouts: %w", err)
	}
	return Timeouts{TCP: c.TimeoutTCP, TCPFin: c.TimeoutTCPFin, UDP: c.TimeoutUDP}, nil
}

// SetTimeouts sets the kernel's connection timeouts (IPVS_CMD_SET_CONFIG,
// one write); a zero field leaves that timeout as it is (the kernel
// ignores a zero).
func (k *Kernel) SetTimeouts(t Timeouts) error {
	for _, d := range []time.Duration{t.TCP, t.TCPFin, t.UDP} {
		if d < 0 || d%time.Second != 0 {
			return fmt.Errorf("set IPVS timeouts: %v is not a whole number of seconds", d)
		}
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.h == nil {
		return fmt.Errorf("set IPVS timeouts: backend closed")
	}
	k.writes.Add(1)
	if err := k.h.SetConfig(&mobyipvs.Config{TimeoutTCP: t.TCP, TimeoutTCPFin: t.TCPFin, TimeoutUDP: t.UDP}); err != nil {
		return fmt.Errorf("set IPVS timeouts tcp %v tcpfin %v udp %v: %w", t.TCP, t.TCPFin, t.UDP, err)
	}
	return nil
}

// StartDaemon starts a connection sync daemon (IPVS_CMD_NEW_DAEMON).
func (k *Kernel) StartDaemon(d Daemon) error {
	if err := d.Validate(); err != nil {
		return err
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	var a attrs
	daemonAttrs(&a, d)
	k.writes.Add(1)
	if err := k.nl.ipvs(cmdNewDaemon, 0, a.b, nil); err != nil {
		return fmt.Errorf("start IPVS sync daemon %s on %s (sync id %d): %w", d.State, d.Interface, d.SyncID, err)
	}
	return nil
}

// StopDaemon stops the sync daemon in state s (IPVS_CMD_DEL_DAEMON).
func (k *Kernel) StopDaemon(s DaemonState) error {
	if s != DaemonMaster && s != DaemonBackup {
		return fmt.Errorf("stop IPVS sync daemon: state must be master or backup, not %s", s)
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	var a attrs
	a.nest(cmdAttrDaemon, func(a *attrs) { a.u32(daemonAttrState, uint32(s)) })
	k.writes.Add(1)
	if err := k.nl.ipvs(cmdDelDaemon, 0, a.b, nil); err != nil {
		return fmt.Errorf("stop IPVS sync daemon %s: %w", s, err)
	}
	return nil
}

// Daemons lists the running sync daemons (IPVS_CMD_GET_DAEMON), master
// first.
func (k *Kernel) Daemons() ([]Daemon, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	var out []Daemon
	err := k.nl.ipvs(cmdGetDaemon, unix.NLM_F_DUMP, nil, func(b []byte) error {
		d, err := parseDaemonMsg(b)
		if err != nil {
			return err
		}
		out = append(out, d)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list IPVS sync daemons: %w", err)
	}
	return out, nil
}
