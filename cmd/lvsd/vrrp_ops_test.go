package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lvsd/lvsd/director/control"
	"github.com/lvsd/lvsd/test/nstest"
)

// vrrpOpsConfig is one VRRP instance on eth0 with metrics on the
// namespace's loopback.
func vrrpOpsConfig(prio int) string {
	return fmt.Sprintf(`node_name = "n%d"

metrics {
  listen = "127.0.0.1:9587"
}

vrrp_instance "VI_1" {
  interface         = "eth0"
  vrid              = 61
  priority          = %d
  advert_interval   = "100ms"
  virtual_addresses = ["10.202.0.100/24"]
}
`, prio, prio)
}

// nsScrape reads the metrics of a daemon inside ns: the connection is made
// from inside the namespace, the request is plain HTTP/1.0 over it.
func nsScrape(t *testing.T, ns *nstest.NS) string {
	t.Helper()
	var c net.Conn
	if err := ns.Do(func() (err error) {
		c, err = net.DialTimeout("tcp", "127.0.0.1:9587", 5*time.Second)
		return err
	}); err != nil {
		t.Fatalf("connect to the metrics in %s: %v", ns.Name, err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(c, "GET /metrics HTTP/1.0\r\nHost: lvsd\r\n\r\n")
	b, err := io.ReadAll(c)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// metricValue finds one series' value in a scrape.
func metricValue(t *testing.T, scrape, series string) float64 {
	t.Helper()
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(series) + ` (\S+)$`).FindStringSubmatch(scrape)
	if m == nil {
		t.Fatalf("no series %s in:\n%s", series, scrape)
	}
	v, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestFailoverBetweenTwoDaemons runs two daemons (processes, each in its
// namespace, joined by a veth) with one VRRP instance, and fails the
// master over with lvsd failover: the backup takes the address, the
// stepped-down node shows it in lvsd status and in its metrics, and takes
// the master role back when the step-down ends.
func TestFailoverBetweenTwoDaemons(t *testing.T) {
	if testing.Short() {
		t.Skip("namespace test skipped in -short mode (make test runs it)")
	}
	t.Setenv(memoryEnv, "1")
	a, b := nstest.New(t, "fa"), nstest.New(t, "fb")
	nstest.Veth(t, a, "eth0", b, "eth0")
	a.Addr(t, "eth0", "10.202.0.1/24")
	b.Addr(t, "eth0", "10.202.0.2/24")
	dir := shortTempDir(t)
	type node struct {
		ns     *nstest.NS
		socket string
		proc   *lvsdProc
	}
	start := func(name string, ns *nstest.NS, prio int) *node {
		cfg := filepath.Join(dir, name+".hcl")
		writeFile(t, cfg, vrrpOpsConfig(prio))
		n := &node{ns: ns, socket: filepath.Join(dir, name+".sock")}
		n.proc = startLVSD(t, "-c", cfg, "--state-file", "", "--socket", n.socket, "--netns", ns.Path())
		return n
	}
	n1, n2 := start("n1", a, 150), start("n2", b, 100)
	instance := func(n *node) control.VRRPInstance {
		t.Helper()
		c := control.NewClient(n.socket)
		defer c.Close()
		st, err := c.Status(context.Background())
		if err != nil || len(st.VRRP.Instances) != 1 {
			t.Fatalf("status of %s: %v %+v", n.socket, err, st.VRRP)
		}
		return st.VRRP.Instances[0]
	}
	waitState := func(what string, within time.Duration, cond func(i1, i2 control.VRRPInstance) bool) {
		t.Helper()
		deadline := time.Now().Add(within)
		for {
			i1, i2 := instance(n1), instance(n2)
			if cond(i1, i2) {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s not within %v: n1 %s, n2 %s", what, within, i1.State, i2.State)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	hasVIP := func(ns *nstest.NS) bool {
		addrs, err := ns.Addrs("eth0")
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range addrs {
			if p.String() == "10.202.0.100/24" {
				return true
			}
		}
		return false
	}
	waitState("n1 MASTER, n2 BACKUP", 10*time.Second, func(i1, i2 control.VRRPInstance) bool {
		return i1.State == "MASTER" && i2.State == "BACKUP" && i2.Master == "10.202.0.1"
	})
	r := cli(t, "status", "--socket", n1.socket)
	if r.code != 0 {
		t.Fatalf("status: %v", r)
	}
	mustContain(t, "n1's status", r.stdout, "VRRP\n", "  VI_1", "eth0", "61", "MASTER", "150", "10.202.0.1")

	// Fail over for 3 s.
	r = cli(t, "failover", "--socket", n1.socket, "--for", "3s")
	if r.code != 0 || !strings.HasPrefix(r.stdout, "VI_1 stepped down until ") {
		t.Fatalf("failover: %v", r)
	}
	waitState("n2 MASTER after the failover", 5*time.Second, func(i1, i2 control.VRRPInstance) bool {
		return i1.State == "BACKUP" && i2.State == "MASTER"
	})
	if !hasVIP(b) {
		t.Fatal("n2 is MASTER without the virtual address")
	}
	i1 := instance(n1)
	if i1.SteppedDownUntil == nil || i1.Master != "10.202.0.2" {
		t.Fatalf("n1 after the failover: %+v", i1)
	}
	holdEnd := *i1.SteppedDownUntil
	if r := cli(t, "status", "--socket", n1.socket); !strings.Contains(r.stdout, "BACKUP (stepped down for ") {
		t.Fatalf("n1's status during the step-down:\n%s", r.stdout)
	}
	m1, m2 := nsScrape(t, a), nsScrape(t, b)
	if v := metricValue(t, m2, `lvsd_vrrp_state{state="master",vrid="61",vrrp_instance="VI_1"}`); v != 1 {
		t.Fatalf("n2's state metric: %v", v)
	}
	if v := metricValue(t, m1, `lvsd_vrrp_state{state="backup",vrid="61",vrrp_instance="VI_1"}`); v != 1 {
		t.Fatalf("n1's state metric: %v", v)
	}
	if v := metricValue(t, m1, `lvsd_vrrp_priority_zero_sent_total{vrid="61",vrrp_instance="VI_1"}`); v < 1 {
		t.Fatalf("n1 sent no priority 0 advert: %v", v)
	}
	if v := metricValue(t, m1, `lvsd_vrrp_transitions_total{vrid="61",vrrp_instance="VI_1"}`); v < 2 {
		t.Fatalf("n1's transitions: %v", v)
	}
	if v := metricValue(t, m2, `lvsd_vrrp_adverts_received_total{vrid="61",vrrp_instance="VI_1"}`); v < 1 {
		t.Fatalf("n2's received adverts: %v", v)
	}
	if v := metricValue(t, m1, `lvsd_vrrp_adverts_sent_total{vrid="61",vrrp_instance="VI_1"}`); v < 1 {
		t.Fatalf("n1's sent adverts: %v", v)
	}
	if v := metricValue(t, m1, `lvsd_vrrp_adverts_dropped_total{reason="ttl",vrid="61",vrrp_instance="VI_1"}`); v != 0 {
		t.Fatalf("n1's dropped adverts: %v", v)
	}
	metricValue(t, m1, `lvsd_vrrp_effective_priority{vrid="61",vrrp_instance="VI_1"}`)

	// The step-down ends; n1 preempts.
	waitState("n1 MASTER again", 10*time.Second, func(i1, i2 control.VRRPInstance) bool {
		return i1.State == "MASTER" && i2.State == "BACKUP"
	})
	// By the daemon's own clock: not before the step-down ended.
	if back := instance(n1).Since; back.Before(holdEnd.Add(-50 * time.Millisecond)) {
		t.Fatalf("n1 took the master role back at %v, before its step-down ended at %v", back, holdEnd)
	}

	// Errors: an unknown instance; a node that is master of nothing.
	if r := cli(t, "failover", "nope", "--socket", n1.socket); r.code != 1 || !strings.Contains(r.stderr, `no such vrrp_instance "nope"`) {
		t.Fatalf("failover nope: %v", r)
	}
	if r := cli(t, "failover", "--socket", n2.socket); r.code != 0 || !strings.Contains(r.stdout, "nothing to do") {
		t.Fatalf("failover on the backup: %v", r)
	}
}
