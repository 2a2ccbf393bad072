package main

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lvsd/lvsd/director/control"
	"github.com/lvsd/lvsd/test/nstest"
)

// TestKernelStatusAndMetrics runs the daemon on examples/nat-nginx-tomcat.hcl
// against the real kernel, sends requests through the Tomcat VIP, and reads
// the kernel's counters back through lvsd status (JSON and table) and the
// metrics; then drains a real server with lvsd drain and sees the kernel's
// weight go to 0.
func TestKernelStatusAndMetrics(t *testing.T) {
	nstest.RequireIPVS(t)
	topo := newNAT(t, "203.0.113.0/24", "203.0.113.10", map[string][]string{
		"10.0.1.0/24": {"10.0.1.11", "10.0.1.12", "10.0.1.13"},
		"10.0.2.0/24": {"10.0.2.21", "10.0.2.22"},
	})
	for i, a := range []string{"10.0.1.11", "10.0.1.12", "10.0.1.13"} {
		newRealServer(t, fmt.Sprintf("nginx%d", i+1), topo.rs[a], "0.0.0.0:80", "0.0.0.0:443")
	}
	for i, a := range []string{"10.0.2.21", "10.0.2.22"} {
		newRealServer(t, fmt.Sprintf("tomcat%d", i+1), topo.rs[a], "0.0.0.0:8080")
	}
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "lvsd.hcl")
	writeFile(t, cfgPath, readFile(t, "../../examples/nat-nginx-tomcat.hcl"))
	d := startLVSD(t, "-c", cfgPath, "--netns", topo.director.Path(), "--state-file", filepath.Join(dir, "owned"))

	const requests = 20
	for i := range requests {
		if name, err := get(topo.client, "203.0.113.10:8080"); err != nil || !strings.HasPrefix(name, "tomcat") {
			t.Fatalf("request %d through the Tomcat VIP: %q, %v", i, name, err)
		}
	}
	// The kernel's estimator folds the per-CPU counters in every 2 s.
	var st control.Status
	c := control.NewClient(d.socket)
	defer c.Close()
	for deadline := time.Now().Add(20 * time.Second); ; {
		var err error
		if st, err = c.Status(context.Background()); err != nil {
			t.Fatal(err)
		}
		var conns uint64
		for _, vs := range st.VirtualServers {
			for _, svc := range vs.Services {
				if vs.Name == "tomcat" && svc.Stats != nil {
					conns += svc.Stats.Conns
				}
			}
		}
		if conns >= requests {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the kernel's counters show %d connections to tomcat, want %d: %+v", conns, requests, st.Kernel)
		}
		time.Sleep(500 * time.Millisecond)
	}
	var perServer, bytesOut uint64
	for _, vs := range st.VirtualServers {
		if vs.Name != "tomcat" {
			continue
		}
		for _, rs := range vs.RealServers {
			if rs.Totals == nil {
				t.Fatalf("%s: no kernel counters", rs.ID)
			}
			t.Logf("%s: %d connections, %d packets in, %d bytes out", rs.ID, rs.Totals.Conns, rs.Totals.PacketsIn, rs.Totals.BytesOut)
			perServer += rs.Totals.Conns
			bytesOut += rs.Totals.BytesOut
		}
	}
	if perServer != requests || bytesOut == 0 {
		t.Fatalf("real servers' connections %d (want %d), bytes out %d", perServer, requests, bytesOut)
	}
	r := cli(t, "status", "--socket", d.socket, "--exact", "tomcat")
	if r.code != 0 {
		t.Fatalf("lvsd status: %v", r)
	}
	mustContain(t, "lvsd status", r.stdout, "TCP  203.0.113.10:8080", "  -> 10.0.2.21:8080", "  -> 10.0.2.22:8080", "Masq")
	t.Logf("lvsd status tomcat:\n%s", r.stdout)

	m := nsScrape(t, topo.director)
	if v := metricValue(t, m, `lvsd_ipvs_service_connections_total{service="tcp 203.0.113.10:8080",vs="tomcat"}`); v < requests {
		t.Fatalf("service connections in the metrics: %v", v)
	}
	if v := metricValue(t, m, `lvsd_ipvs_counters_up`); v != 1 {
		t.Fatal("lvsd_ipvs_counters_up is not 1")
	}
	if v := metricValue(t, m, `lvsd_real_server_up{rs="tomcat/tomcat1",vs="tomcat"}`); v != 1 {
		t.Fatal("tomcat1 not up in the metrics")
	}

	// lvsd drain: weight 0 in the kernel at once.
	if r := cli(t, "drain", "tomcat/tomcat1", "--socket", d.socket); r.code != 0 {
		t.Fatalf("lvsd drain: %v", r)
	}
	tbl := kernelTable(t, topo.director)
	if !strings.Contains(tbl.String(), "-r 10.0.2.21:8080 -m -w 0") {
		t.Fatalf("after lvsd drain tomcat/tomcat1:\n%s", tbl)
	}
	for i := range 6 {
		if name, err := get(topo.client, "203.0.113.10:8080"); err != nil || name != "tomcat2" {
			t.Fatalf("request %d after the drain: %q, %v", i, name, err)
		}
	}
}
