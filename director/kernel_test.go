package director

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lvsd/lvsd/ipvs"
)

// extrasBackend is the in-memory table plus kernel timeouts and sync
// daemons, as a test stand-in for what ipvs.Kernel does (the lab test
// TestKernelDaemonTimeoutsAndSyncDaemon runs the real one).
type extrasBackend struct {
	*ipvs.Memory
	mu       sync.Mutex
	timeouts ipvs.Timeouts
	daemons  map[ipvs.DaemonState]ipvs.Daemon
	calls    []string
}

func (b *extrasBackend) Timeouts() (ipvs.Timeouts, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.timeouts, nil
}

func (b *extrasBackend) SetTimeouts(t ipvs.Timeouts) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.calls = append(b.calls, fmt.Sprintf("timeouts %v %v %v", t.TCP, t.TCPFin, t.UDP))
	if t.TCP != 0 {
		b.timeouts.TCP = t.TCP
	}
	if t.TCPFin != 0 {
		b.timeouts.TCPFin = t.TCPFin
	}
	if t.UDP != 0 {
		b.timeouts.UDP = t.UDP
	}
	return nil
}

func (b *extrasBackend) Daemons() ([]ipvs.Daemon, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []ipvs.Daemon
	for _, d := range b.daemons {
		d.Port, d.TTL = 8848, 1 // the kernel fills in its defaults
		out = append(out, d)
	}
	return out, nil
}

func (b *extrasBackend) StartDaemon(d ipvs.Daemon) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.calls = append(b.calls, fmt.Sprintf("start %s %s %d", d.State, d.Interface, d.SyncID))
	b.daemons[d.State] = d
	return nil
}

func (b *extrasBackend) StopDaemon(s ipvs.DaemonState) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.calls = append(b.calls, "stop "+s.String())
	delete(b.daemons, s)
	return nil
}

func (b *extrasBackend) takeCalls() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	c := b.calls
	b.calls = nil
	return c
}

func TestDirectorTimeoutsAndSyncDaemons(t *testing.T) {
	b := &extrasBackend{Memory: ipvs.NewMemory(ipvs.Table{}), timeouts: ipvs.Timeouts{TCP: 900 * time.Second, TCPFin: 120 * time.Second, UDP: 300 * time.Second},
		daemons: map[ipvs.DaemonState]ipvs.Daemon{}}
	src := `
ipvs {
  resync_interval = "10s"
  timeouts {
    tcp = "1h"
    udp = "60s"
  }
  sync_daemon {
    interface = "eth1"
    role      = "both"
    sync_id   = 7
  }
}
virtual_server "v" {
  address = "192.0.2.1:80"
  real_server { address = "10.0.1.1:80" }
}
`
	r := newRig(t, src, rigOpts{backend: b})
	if got, want := b.takeCalls(), []string{"timeouts 1h0m0s 0s 1m0s", "start master eth1 7", "start backup eth1 7"}; !slices.Equal(got, want) {
		t.Fatalf("start: %q, want %q", got, want)
	}
	// A resync with everything in place does nothing; one after a daemon
	// was stopped by hand restarts it, as drift.
	r.clock.Advance(10 * time.Second)
	if err := r.d.Resync(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := b.takeCalls(); len(got) != 0 {
		t.Fatalf("resync with nothing to do: %q", got)
	}
	b.StopDaemon(ipvs.DaemonBackup)
	b.SetTimeouts(ipvs.Timeouts{TCP: 5 * time.Second})
	b.takeCalls()
	if err := r.d.Resync(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got, want := b.takeCalls(), []string{"timeouts 1h0m0s 0s 1m0s", "start backup eth1 7"}; !slices.Equal(got, want) {
		t.Fatalf("repair: %q, want %q", got, want)
	}
	if st := r.d.Status().Sync; st.DriftRepairs != 2 {
		t.Fatalf("drift repairs %d, want 2", st.DriftRepairs)
	}
	if n := len(r.logged("IPVS sync daemon was stopped or changed behind lvsd's back; restarted")); n != 1 {
		t.Fatalf("%d drift lines for the daemon", n)
	}

	// A reload with another sync id restarts both; one without a
	// sync_daemon stops them.
	r.setSource(strings.Replace(src, "sync_id   = 7", "sync_id   = 8", 1))
	if _, err := r.d.Reload(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got, want := b.takeCalls(), []string{"stop master", "start master eth1 8", "stop backup", "start backup eth1 8"}; !slices.Equal(got, want) {
		t.Fatalf("reload with sync id 8: %q, want %q", got, want)
	}
	r.setSource(strings.Replace(src, `  sync_daemon {
    interface = "eth1"
    role      = "both"
    sync_id   = 7
  }
`, "", 1))
	if _, err := r.d.Reload(context.Background()); err != nil {
		t.Fatal(err)
	}
	got := b.takeCalls()
	slices.Sort(got)
	if want := []string{"stop backup", "stop master"}; !slices.Equal(got, want) {
		t.Fatalf("reload without a sync daemon: %q, want %q", got, want)
	}
}

// A sync daemon lvsd never ran is not its to stop.
func TestDirectorLeavesForeignSyncDaemons(t *testing.T) {
	b := &extrasBackend{Memory: ipvs.NewMemory(ipvs.Table{}), daemons: map[ipvs.DaemonState]ipvs.Daemon{
		ipvs.DaemonMaster: {State: ipvs.DaemonMaster, Interface: "eth9"},
	}}
	newRig(t, `virtual_server "v" {
  address = "192.0.2.1:80"
  real_server { address = "10.0.1.1:80" }
}`, rigOpts{backend: b})
	if got := b.takeCalls(); len(got) != 0 {
		t.Fatalf("calls %q", got)
	}
}
