package control

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/lvsd/lvsd/director"
	"github.com/lvsd/lvsd/ipvs"
)

func TestResolve(t *testing.T) {
	key := func(s string) ipvs.ServiceKey { return ipvs.AddrKey(ipvs.TCP, netip.MustParseAddrPort(s)) }
	rs := func(vs, name, addr string, port uint16) director.RealServerStatus {
		return director.RealServerStatus{ID: vs + "/" + name, Name: name, Addr: netip.MustParseAddr(addr), Port: port}
	}
	st := &director.Status{
		VirtualServers: []director.VirtualServerStatus{
			{Name: "web", Services: []ipvs.ServiceKey{key("192.0.2.1:80"), key("192.0.2.1:443")}, RealServers: []director.RealServerStatus{
				rs("web", "web1", "10.0.1.1", 0),
				rs("web", "10.0.1.2", "10.0.1.2", 0),
				rs("web", "v6", "2001:db8::1", 0),
			}},
			{Name: "api", Services: []ipvs.ServiceKey{key("192.0.2.1:8080")}, RealServers: []director.RealServerStatus{
				rs("api", "web1", "10.0.1.1", 9000),
				rs("api", "api2", "10.0.1.3", 9000),
			}},
		},
		Overrides: []director.OverrideStatus{{RealServer: "old/gone", Override: director.OverrideDrain}},
	}
	tests := []struct {
		ref  string
		all  bool
		want string // IDs, comma-separated; "!amb", "!none" for errors
	}{
		{"web/web1", false, "web/web1"},
		{"api/web1", false, "api/web1"},
		{"web/10.0.1.2", false, "web/10.0.1.2"},
		{"web1", false, "!amb"},
		{"web1", true, "web/web1,api/web1"},
		{"api2", false, "api/api2"},
		{"10.0.1.3:9000", false, "api/api2"},
		{"10.0.1.3", false, "api/api2"},
		{"10.0.1.3:80", false, "!none"},
		{"10.0.1.1:443", false, "web/web1"}, // takes each service's port
		{"10.0.1.1:9000", false, "api/web1"},
		{"10.0.1.1:8080", false, "!none"}, // api/web1 has its own port
		{"10.0.1.1", false, "!amb"},
		{"web/10.0.1.1", false, "web/web1"},
		{"[2001:db8::1]:80", false, "web/v6"},
		{"[2001:db8::1]", false, "web/v6"},
		{"2001:db8::1", false, "web/v6"},
		{"old/gone", false, "old/gone"}, // an override of a server no longer configured
		{"nope/web1", false, "!none"},
		{"web/nope", false, "!none"},
		{"", false, "!none"},
		{" web/web1 ", false, "web/web1"},
	}
	for _, tt := range tests {
		ids, err := Resolve(st, tt.ref, tt.all)
		var got string
		var amb *AmbiguousError
		switch {
		case errors.As(err, &amb):
			got = "!amb"
		case errors.Is(err, ErrNoRealServer):
			got = "!none"
		case err != nil:
			got = "!" + err.Error()
		default:
			got = strings.Join(ids, ",")
		}
		if got != tt.want {
			t.Errorf("Resolve(%q, all=%v) = %q (%v), want %q", tt.ref, tt.all, got, err, tt.want)
		}
	}
	_, err := Resolve(st, "web1", false)
	if err == nil || !strings.Contains(err.Error(), "web/web1, api/web1") || !strings.Contains(err.Error(), "--all") {
		t.Errorf("ambiguous message: %v", err)
	}
}

func TestCountersAreCachedAndShared(t *testing.T) {
	clock := clockwork.NewFakeClock()
	var (
		mu    sync.Mutex
		dumps int
	)
	release := make(chan struct{})
	dump := func(ctx context.Context) (ipvs.Table, error) {
		mu.Lock()
		dumps++
		mu.Unlock()
		<-release
		return ipvs.NewTable(ipvs.VirtualService{Service: ipvs.Service{ServiceKey: ipvs.MarkKey(7, ipvs.IPv4), Scheduler: "rr"}}), nil
	}
	c := NewCounters(dump, 2*time.Second, clock)
	ctx := context.Background()
	// Ten readers at once: one dump.
	var wg sync.WaitGroup
	for range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if tb, _, err := c.Get(ctx); err != nil || tb.Len() != 1 {
				t.Errorf("Get: %v, %d services", err, tb.Len())
			}
		}()
	}
	time.Sleep(20 * time.Millisecond)
	close(release)
	wg.Wait()
	if c.Dumps() != 1 {
		t.Fatalf("%d dumps for 10 concurrent readers", c.Dumps())
	}
	// Fresh enough: reused; stale: read again.
	clock.Advance(time.Second)
	c.Get(ctx)
	if c.Dumps() != 1 {
		t.Fatal("a read 1s old was not reused")
	}
	clock.Advance(1500 * time.Millisecond)
	_, at, _ := c.Get(ctx)
	if c.Dumps() != 2 || !at.Equal(clock.Now()) {
		t.Fatalf("after 2.5s: %d dumps, read at %v", c.Dumps(), at)
	}
	// A reader that gives up while another's dump runs does not wait.
	clock.Advance(3 * time.Second)
	release = make(chan struct{})
	go c.Get(ctx)
	for deadline := time.Now().Add(5 * time.Second); c.Dumps() != 3; {
		if time.Now().After(deadline) {
			t.Fatal("the third dump did not start")
		}
		time.Sleep(time.Millisecond)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, _, err := c.Get(cctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled reader: %v", err)
	}
	close(release)
	// A nil source has no counters and no error.
	if tb, at, err := NewCounters(nil, 0, nil).Get(ctx); tb.Len() != 0 || !at.IsZero() || err != nil {
		t.Fatal("nil source")
	}
}
