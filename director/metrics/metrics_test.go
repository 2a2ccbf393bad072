package metrics

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	logtest "github.com/sirupsen/logrus/hooks/test"
	"go.uber.org/goleak"

	"github.com/lvsd/lvsd/director"
	"github.com/lvsd/lvsd/director/control"
	"github.com/lvsd/lvsd/ipvs"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func backend(t *testing.T) netip.AddrPort {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	t.Cleanup(func() { ln.Close(); <-done })
	return netip.MustParseAddrPort(ln.Addr().String())
}

// rig is a Director on an in-memory IPVS table with its metrics served
// on a real HTTP listener.
type rig struct {
	t    *testing.T
	d    *director.Director
	mem  *ipvs.Memory
	cnt  *control.Counters
	url  string
	file string
}

func startRig(t *testing.T, src string) *rig {
	t.Helper()
	r := &rig{t: t, mem: ipvs.NewMemory(ipvs.Table{}), file: filepath.Join(t.TempDir(), "lvsd.hcl")}
	r.write(src)
	cfg, diags := director.LoadConfig(r.file, nil)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	logger, _ := logtest.NewNullLogger()
	r.cnt = control.NewCounters(r.mem.Dump, time.Hour, nil)
	var m *Metrics
	ready := make(chan struct{})
	m = New(Options{Counters: r.cnt, Version: "v1.2.3"})
	d, err := director.New(director.Options{
		Config: cfg, Backend: r.mem, Log: logger, Observer: m,
		Load:  func() (*director.Config, hcl.Diagnostics) { return director.LoadConfig(r.file, nil) },
		Ready: func() { close(ready) },
	})
	if err != nil {
		t.Fatal(err)
	}
	m.opts.Director = d
	r.d = d
	srv, err := m.Listen(netip.MustParseAddrPort("127.0.0.1:0"), "/metrics", logger)
	if err != nil {
		t.Fatal(err)
	}
	r.url = "http://" + srv.Addr().String() + "/metrics"
	ctx, cancel := context.WithCancel(context.Background())
	runDone, serveDone := make(chan error, 1), make(chan error, 1)
	go func() { runDone <- d.Run(ctx) }()
	go func() { serveDone <- srv.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		for _, c := range []chan error{runDone, serveDone} {
			select {
			case err := <-c:
				if err != nil {
					t.Error(err)
				}
			case <-time.After(10 * time.Second):
				t.Error("did not stop")
			}
		}
	})
	select {
	case <-ready:
	case <-time.After(10 * time.Second):
		t.Fatal("not ready")
	}
	return r
}

func (r *rig) write(src string) {
	if err := os.WriteFile(r.file, []byte(src), 0o644); err != nil {
		r.t.Fatal(err)
	}
}

// scrape fetches and parses the metrics.
func (r *rig) scrape() map[string]*dto.MetricFamily {
	r.t.Helper()
	resp, err := http.Get(r.url)
	if err != nil {
		r.t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		r.t.Fatalf("scrape: %s", resp.Status)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		r.t.Fatalf("parse the scrape: %v", err)
	}
	return fams
}

// value is the value of the series name{labels}; ok is false when absent.
func value(fams map[string]*dto.MetricFamily, name string, labels ...string) (float64, bool) {
	f := fams[name]
	if f == nil {
		return 0, false
	}
	want := map[string]string{}
	for i := 0; i+1 < len(labels); i += 2 {
		want[labels[i]] = labels[i+1]
	}
next:
	for _, m := range f.Metric {
		got := map[string]string{}
		for _, l := range m.Label {
			got[l.GetName()] = l.GetValue()
		}
		for k, v := range want {
			if got[k] != v {
				continue next
			}
		}
		switch {
		case m.Gauge != nil:
			return m.Gauge.GetValue(), true
		case m.Counter != nil:
			return m.Counter.GetValue(), true
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount()), true
		case m.Untyped != nil:
			return m.Untyped.GetValue(), true
		}
	}
	return 0, false
}

func config(a, b netip.AddrPort) string {
	return fmt.Sprintf(`
node_name = "lb1"
virtual_server "web" {
  address   = "192.0.2.10:80"
  scheduler = "wlc"
  check "tcp" {
    interval = "50ms"
    timeout  = "50ms"
    rise     = 1
    fall     = 1
  }
  real_server {
    name    = "web1"
    address = "%s"
    weight  = 100
  }
  real_server {
    name    = "web2"
    address = "%s"
    weight  = 50
  }
}
`, a, b)
}

func TestScrape(t *testing.T) {
	a, b := backend(t), backend(t)
	r := startRig(t, config(a, b))
	key := ipvs.AddrKey(ipvs.TCP, netip.MustParseAddrPort("192.0.2.10:80"))
	r.mem.Edit(func(tb *ipvs.Table) {
		d, _ := tb.Destination(key, a)
		d.Stats = ipvs.Counters{ActiveConns: 9, InactiveConns: 4, Conns: 5_000_000_001, PacketsIn: 7_000_000_000, BytesIn: 1 << 50, BytesOut: 3 << 50}
		tb.PutDestination(key, d)
		vs, _ := tb.Get(key)
		vs.Stats = ipvs.Counters{Conns: 6_000_000_000, PacketsOut: 9_000_000_000, BytesOut: 1 << 53}
		tb.Put(vs)
	})
	// Wait for a few check runs on both real servers.
	var fams map[string]*dto.MetricFamily
	for deadline := time.Now().Add(10 * time.Second); ; {
		fams = r.scrape()
		n1, _ := value(fams, "lvsd_check_duration_seconds", "rs", "web/web1")
		n2, _ := value(fams, "lvsd_check_duration_seconds", "rs", "web/web2")
		if n1 >= 3 && n2 >= 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("check latencies not recorded: %v %v", n1, n2)
		}
		time.Sleep(20 * time.Millisecond)
	}
	st := r.d.Status()
	expect := []struct {
		name   string
		labels []string
		want   float64
	}{
		{"lvsd_build_info", []string{"version", "v1.2.3"}, 1},
		{"lvsd_ready", nil, 1},
		{"lvsd_config_info", []string{"hash", st.ConfigHash, "node", "lb1"}, 1},
		{"lvsd_config_reloads_total", []string{"result", "success"}, 0},
		{"lvsd_config_reloads_total", []string{"result", "failure"}, 0},
		{"lvsd_syncs_total", []string{"kind", "full"}, 1},
		{"lvsd_ipvs_writes_total", nil, 3},
		{"lvsd_ipvs_ops_total", nil, 3},
		{"lvsd_ipvs_owned_services", nil, 1},
		{"lvsd_ipvs_drift_repairs_total", nil, 0},
		{"lvsd_sync_duration_seconds", nil, 1},
		{"lvsd_virtual_server_up", []string{"vs", "web"}, 1},
		{"lvsd_virtual_server_weight_up", []string{"vs", "web"}, 150},
		{"lvsd_real_server_up", []string{"vs", "web", "rs", "web/web1"}, 1},
		{"lvsd_real_server_weight", []string{"rs", "web/web2"}, 50},
		{"lvsd_real_server_configured_weight", []string{"rs", "web/web2"}, 50},
		{"lvsd_real_server_state", []string{"rs", "web/web1", "state", "up"}, 1},
		{"lvsd_real_server_state", []string{"rs", "web/web1", "state", "drain"}, 0},
		{"lvsd_check_up", []string{"rs", "web/web1", "kind", "tcp"}, 1},
		{"lvsd_check_results_total", []string{"rs", "web/web1", "result", "failure"}, 0},
		{"lvsd_ipvs_counters_up", nil, 1},
		{"lvsd_ipvs_service_connections_total", []string{"vs", "web", "service", "tcp 192.0.2.10:80"}, 6_000_000_000},
		{"lvsd_ipvs_service_packets_total", []string{"service", "tcp 192.0.2.10:80", "direction", "out"}, 9_000_000_000},
		{"lvsd_ipvs_service_bytes_total", []string{"direction", "out"}, 1 << 53},
		{"lvsd_ipvs_real_server_connections_total", []string{"rs", "web/web1"}, 5_000_000_001},
		{"lvsd_ipvs_real_server_packets_total", []string{"rs", "web/web1", "direction", "in"}, 7_000_000_000},
		{"lvsd_ipvs_real_server_bytes_total", []string{"rs", "web/web1", "direction", "in"}, 1 << 50},
		{"lvsd_ipvs_real_server_bytes_total", []string{"rs", "web/web1", "direction", "out"}, 3 << 50},
		{"lvsd_ipvs_real_server_active_connections", []string{"rs", "web/web1"}, 9},
		{"lvsd_ipvs_real_server_inactive_connections", []string{"rs", "web/web1"}, 4},
		{"lvsd_ipvs_real_server_bytes_total", []string{"rs", "web/web2", "direction", "in"}, 0},
	}
	for _, e := range expect {
		got, ok := value(fams, e.name, e.labels...)
		if !ok || got != e.want {
			t.Errorf("%s%v = %v (present %v), want %v", e.name, e.labels, got, ok, e.want)
		}
	}
	if v, _ := value(fams, "lvsd_check_results_total", "rs", "web/web1", "result", "success"); v < 3 {
		t.Errorf("web1's successful checks: %v", v)
	}
	// The histogram's sum is a real latency: positive, below the timeout.
	for _, m := range fams["lvsd_check_duration_seconds"].Metric {
		h := m.Histogram
		if h.GetSampleSum() <= 0 || h.GetSampleSum()/float64(h.GetSampleCount()) > 0.05 {
			t.Errorf("check latency sum %v over %d runs", h.GetSampleSum(), h.GetSampleCount())
		}
	}
	// Prometheus's naming rules: counters and only counters end in
	// _total; every name is one Names lists.
	names := Names()
	for name, f := range fams {
		if !strings.HasPrefix(name, "lvsd_") {
			continue
		}
		if (f.GetType() == dto.MetricType_COUNTER) != strings.HasSuffix(name, "_total") {
			t.Errorf("%s is a %v", name, f.GetType())
		}
		if _, found := slices.BinarySearch(names, name); !found {
			t.Errorf("%s is not in Names()", name)
		}
	}
	if _, ok := fams["go_goroutines"]; !ok {
		t.Error("no Go runtime metrics")
	}
	if _, ok := fams["lvsd_config_last_reload_success"]; ok {
		t.Error("last reload success before any reload")
	}
	// Scrapes within the cache's age read the kernel once.
	if n := r.cnt.Dumps(); n != 1 {
		t.Errorf("%d kernel reads for several scrapes", n)
	}

	// A drain, a refused reload and an applied one show up.
	if err := r.d.SetOverride(context.Background(), "web/web1", director.OverrideDrain); err != nil {
		t.Fatal(err)
	}
	r.write("this is not HCL {")
	if _, err := r.d.Reload(context.Background()); err == nil {
		t.Fatal("a broken file reloaded")
	}
	fams = r.scrape()
	for _, e := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"lvsd_real_server_state", []string{"rs", "web/web1", "state", "drain"}, 1},
		{"lvsd_real_server_state", []string{"rs", "web/web1", "state", "up"}, 0},
		{"lvsd_real_server_weight", []string{"rs", "web/web1"}, 0},
		{"lvsd_real_server_up", []string{"rs", "web/web1"}, 1},
		{"lvsd_syncs_total", []string{"kind", "fast"}, 1},
		{"lvsd_config_reloads_total", []string{"result", "failure"}, 1},
		{"lvsd_config_last_reload_success", nil, 0},
	} {
		if got, ok := value(fams, e.name, e.labels...); !ok || got != e.want {
			t.Errorf("after drain and refused reload: %s%v = %v (present %v), want %v", e.name, e.labels, got, ok, e.want)
		}
	}
	r.write(strings.Replace(config(a, b), "weight  = 50", "weight  = 70", 1))
	if _, err := r.d.Reload(context.Background()); err != nil {
		t.Fatal(err)
	}
	fams = r.scrape()
	if v, _ := value(fams, "lvsd_config_reloads_total", "result", "success"); v != 1 {
		t.Errorf("successful reloads: %v", v)
	}
	if v, _ := value(fams, "lvsd_config_last_reload_success"); v != 1 {
		t.Errorf("last reload success: %v", v)
	}
	if v, _ := value(fams, "lvsd_config_info", "hash", r.d.Status().ConfigHash); v != 1 || r.d.Status().ConfigHash == st.ConfigHash {
		t.Error("config hash not updated by the reload")
	}
}

func TestCountersDown(t *testing.T) {
	a, b := backend(t), backend(t)
	r := startRig(t, config(a, b))
	// A kernel that cannot be read: the traffic series go, the rest stays.
	m := New(Options{Director: r.d, Counters: control.NewCounters(func(context.Context) (ipvs.Table, error) {
		return ipvs.Table{}, fmt.Errorf("netlink: operation not permitted")
	}, 0, nil)})
	fams, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]*dto.MetricFamily{}
	for _, f := range fams {
		byName[f.GetName()] = f
	}
	if v, ok := value(byName, "lvsd_ipvs_counters_up"); !ok || v != 0 {
		t.Errorf("lvsd_ipvs_counters_up = %v", v)
	}
	if _, ok := byName["lvsd_ipvs_real_server_bytes_total"]; ok {
		t.Error("traffic series without counters")
	}
	if v, _ := value(byName, "lvsd_real_server_up", "rs", "web/web1"); v != 1 {
		t.Error("health lost with the counters")
	}
}

func TestNames(t *testing.T) {
	names := Names()
	if len(names) < 45 || !sort.StringsAreSorted(names) {
		t.Fatalf("%d names: %v", len(names), names)
	}
	for _, n := range names {
		if !strings.HasPrefix(n, "lvsd_") {
			t.Errorf("%s: not lvsd_", n)
		}
	}
}
