package lab_test

import (
	"context"
	"net"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/moby/ipvs"

	"github.com/lvsd/lvsd/test/nstest"
)

// TestKernelIPVSPresent proves the lab gives kernel tests a working IPVS:
// a service and a real server added through moby/ipvs in a fresh namespace
// read back as written, and stay inside that namespace.
func TestKernelIPVSPresent(t *testing.T) {
	nstest.RequireIPVS(t)
	ns := nstest.New(t, "labipvs")
	h, err := ipvs.New(ns.Path())
	if err != nil {
		t.Fatalf("ipvs handle on %s: %v", ns.Name, err)
	}
	defer h.Close()

	svc := &ipvs.Service{
		Address: net.ParseIP("10.77.0.1").To4(), Protocol: syscall.IPPROTO_TCP, Port: 80,
		AddressFamily: syscall.AF_INET, SchedName: "wrr", Netmask: 0xffffffff,
	}
	if err := h.NewService(svc); err != nil {
		t.Fatalf("add service 10.77.0.1:80: %v", err)
	}
	dst := &ipvs.Destination{Address: net.ParseIP("10.77.1.2").To4(), Port: 8080, Weight: 3, AddressFamily: syscall.AF_INET}
	if err := h.NewDestination(svc, dst); err != nil {
		t.Fatalf("add real server 10.77.1.2:8080: %v", err)
	}

	got, err := h.GetServices()
	if err != nil {
		t.Fatalf("dump services: %v", err)
	}
	if len(got) != 1 {
		t.Fatalf("namespace %s has %d services, want the 1 just added", ns.Name, len(got))
	}
	s := got[0]
	if !s.Address.Equal(svc.Address) || s.Port != 80 || s.Protocol != syscall.IPPROTO_TCP || s.SchedName != "wrr" {
		t.Errorf("service read back as %s:%d proto %d sched %s, want 10.77.0.1:80 tcp wrr", s.Address, s.Port, s.Protocol, s.SchedName)
	}
	ds, err := h.GetDestinations(s)
	if err != nil {
		t.Fatalf("dump real servers: %v", err)
	}
	if len(ds) != 1 || !ds[0].Address.Equal(dst.Address) || ds[0].Port != 8080 || ds[0].Weight != 3 {
		t.Fatalf("real servers read back as %+v, want 10.77.1.2:8080 weight 3", ds)
	}

	// The host namespace must not see it.
	root, err := ipvs.New("")
	if err != nil {
		t.Fatalf("ipvs handle on the initial namespace: %v", err)
	}
	defer root.Close()
	all, err := root.GetServices()
	if err != nil {
		t.Fatalf("dump services of the initial namespace: %v", err)
	}
	for _, o := range all {
		if o.Address.Equal(svc.Address) && o.Port == 80 {
			t.Fatalf("service of namespace %s is visible in the initial namespace", ns.Name)
		}
	}
}

// TestKernelLabGuest checks the tools the lab promises in its VM, so that
// other kernel tests can rely on them: iproute2's ip (with netns) found
// first in PATH, ipvsadm, keepalived, a /bin/sh that is not busybox's, and
// every scheduler module loaded.
func TestKernelLabGuest(t *testing.T) {
	nstest.RequireIPVS(t)
	if !nstest.InLab() {
		t.Skip("checks the contents of the lab VM; this run is native")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	run := func(name string, args ...string) string {
		t.Helper()
		out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
		if err != nil {
			t.Errorf("%s %s: %v: %s", name, strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	if p, err := exec.LookPath("ip"); err != nil || p != "/usr/sbin/ip" {
		t.Errorf("ip in PATH is %q (%v), want iproute2's /usr/sbin/ip", p, err)
	}
	ns := nstest.New(t, "labguest")
	if out := run("ip", "netns", "list"); !strings.Contains(out, ns.Name) {
		t.Errorf("ip netns list does not show %s: %s", ns.Name, out)
	}
	if out := run("sh", "-c", "ip -V"); !strings.Contains(out, "iproute2") {
		t.Errorf("sh -c 'ip -V' ran %q, want iproute2's ip", out)
	}
	if out := run("ipvsadm", "-Ln"); !strings.Contains(out, "IP Virtual Server") {
		t.Errorf("ipvsadm -Ln: %s", out)
	}
	if out := run("keepalived", "--version"); !strings.Contains(out, "Keepalived") {
		t.Errorf("keepalived --version: %s", out)
	}
	mods, err := os.ReadFile("/proc/modules")
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []string{"ip_vs_rr", "ip_vs_wrr", "ip_vs_lc", "ip_vs_wlc", "ip_vs_sh", "ip_vs_dh", "ip_vs_sed",
		"ip_vs_nq", "ip_vs_lblc", "ip_vs_lblcr", "ip_vs_mh", "ip_vs_fo", "ip_vs_ovf", "veth", "bridge", "ipip"} {
		if !strings.Contains(string(mods), m+" ") {
			t.Errorf("module %s is not loaded in the lab", m)
		}
	}
}
