package main

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lvsd/lvsd/ipvs"
	"github.com/lvsd/lvsd/test/nstest"
	"github.com/lvsd/lvsd/vrrp"
	"github.com/lvsd/lvsd/vrrp/vrrptest"
)

// VRRP where IPVS matters, in the kernel lab: two lvsd nodes with virtual
// servers. Both keep the whole table programmed (warm standby), a failover
// moves only addresses, the connection sync daemon follows the VRRP role,
// and track_virtual_server hands the role over when the master's real
// servers fail. Then the two VRRP examples, run as written.

// syncDaemons is `ipvsadm -L --daemon` in ns.
func syncDaemons(t *testing.T, ns *nstest.NS) string { return ipvsadm(t, ns, "-L", "--daemon") }

// waitDaemons waits until ns runs exactly the sync daemons in want
// ("master", "backup"), with sync id id on dev.
func waitDaemons(t *testing.T, ns *nstest.NS, d time.Duration, dev string, id int, want ...string) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		out := syncDaemons(t, ns)
		ok := true
		for _, role := range []string{"master", "backup"} {
			has := strings.Contains(out, fmt.Sprintf("%s sync daemon (mcast=%s, syncid=%d", role, dev, id))
			ok = ok && has == strings.Contains(strings.Join(want, " "), role)
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("sync daemons in %s after %v:\n%s\nwant %v", ns.Name, d, out, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestKernelVRRPWarmStandbyAndSyncDaemon: n1 and n2 each program the
// virtual server 10.200.0.100:80 (the VIP) with a real server of their
// own, checked over TCP. The master's real server dies: track_virtual_server
// hands the VIP to n2; neither table changes; the sync daemons swap roles.
func TestKernelVRRPWarmStandbyAndSyncDaemon(t *testing.T) {
	nstest.RequireIPVS(t)
	l := vrrptest.New(t, 2)
	vip := vrrptest.VIP4.Addr()
	// The real servers listen in the client namespace (reachable from
	// both nodes on the LAN): n1 uses :8081, n2 :8082.
	listen := func(port int) net.Listener {
		var ln net.Listener
		if err := l.Client.Do(func() (err error) { ln, err = net.Listen("tcp4", fmt.Sprintf("10.200.0.50:%d", port)); return err }); err != nil {
			t.Fatal(err)
		}
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				c.Close()
			}
		}()
		t.Cleanup(func() { ln.Close() })
		return ln
	}
	rs1 := listen(8081)
	listen(8082)
	cfg := func(prio, port int) string {
		return vrrpHCL(prio, "100ms", `  track_virtual_server "web" {
    weight = -100
  }
`, fmt.Sprintf(`ipvs {
  sync_daemon {
    interface     = "eth0"
    vrrp_instance = "VI_1"
  }
}
virtual_server "web" {
  address = "%s:80"
  check "tcp" {
    interval = "100ms"
    timeout  = "100ms"
    fall     = 2
  }
  real_server {
    address = "10.200.0.50:%d"
  }
}
`, vip, port))
	}
	n1 := startNode(t, l, "n1", cfg(150, 8081))
	n2 := startNode(t, l, "n2", cfg(100, 8082))
	n1.waitState(5*time.Second, "VI_1", "MASTER")
	n2.waitState(time.Second, "VI_1", "BACKUP")
	l.WaitHolders(time.Second, vip, "n1")

	// Warm standby: the backup's table is programmed too.
	want1, want2 := desiredTable(t, n1.path), desiredTable(t, n2.path)
	t1, t2 := kernelTable(t, l.Node("n1").NS), kernelTable(t, l.Node("n2").NS)
	if !t1.Equal(want1) || !t2.Equal(want2) || t2.NumDestinations() != 1 {
		t.Fatalf("tables:\nn1:\n%s\nn2:\n%s", t1, t2)
	}
	// The sync daemon follows the role: master on the master, backup on
	// the backup (sync id: the instance's vrid).
	waitDaemons(t, l.Node("n1").NS, 5*time.Second, "eth0", 51, "master")
	waitDaemons(t, l.Node("n2").NS, 5*time.Second, "eth0", 51, "backup")

	// n1's real server dies: its virtual server loses quorum, 150 - 100 =
	// 50 < 100, n2 takes over.
	rs1.Close()
	n2.waitState(10*time.Second, "VI_1", "MASTER")
	n1.waitState(time.Second, "VI_1", "BACKUP")
	l.WaitHolders(time.Second, vip, "n2")
	waitDaemons(t, l.Node("n2").NS, 5*time.Second, "eth0", 51, "master")
	waitDaemons(t, l.Node("n1").NS, 5*time.Second, "eth0", 51, "backup")
	// The failover moved the address only: n2's table is as it was, and
	// n1's differs only by its dead real server (taken out by its check).
	if got := kernelTable(t, l.Node("n2").NS); !got.Equal(t2) {
		t.Fatalf("n2's table changed on the failover:\n%s\nwas:\n%s", got, t2)
	}
	if got := kernelTable(t, l.Node("n1").NS); got.Len() != 1 {
		t.Fatalf("n1's virtual service is gone on the failover:\n%s", got)
	}
	for _, n := range []*vnode{n1, n2} {
		for _, line := range n.logged(0, "IPVS drift repaired") {
			t.Fatalf("%s repaired drift: %v", n.node.Name, line)
		}
	}
	if len(n1.logged(0, "virtual server down: below quorum")) != 1 {
		t.Fatal("n1 logged no quorum loss")
	}
}

// exampleLabFile substitutes, in an example, the host paths the lab
// cannot have as written: node-local directories under /run/lvsd (two
// nodes share one file system here), and commands by what exists.
func exampleLabFile(t *testing.T, example, dir string, subst map[string]string) string {
	t.Helper()
	s := readFile(t, "../../examples/"+example)
	s = strings.ReplaceAll(s, "/run/lvsd/", dir+"/")
	for from, to := range subst {
		if !strings.Contains(s, from) {
			t.Fatalf("%s has no %q any more: update the test", example, from)
		}
		s = strings.ReplaceAll(s, from, to)
	}
	path := filepath.Join(dir, example)
	writeFile(t, path, s)
	return path
}

// TestKernelVRRPHAPairExample runs examples/ha-pair.hcl on lb1 and lb2:
// outside LAN 203.0.113.0/24 with the client and the upstream router
// (.1, which the uplink script pings), inside LAN 10.0.1.0/24 with
// web1..3 whose gateway is the inside VIP. lb1 holds both VIPs (a sync
// group), both tables are programmed, the sync daemon follows "outside";
// SIGKILL of lb1 moves both VIPs to lb2, and the client keeps reaching
// the web servers through NAT.
func TestKernelVRRPHAPairExample(t *testing.T) {
	nstest.RequireIPVS(t)
	out, in := nstest.New(t, "out"), nstest.New(t, "in")
	client := nstest.New(t, "cli")
	nstest.Veth(t, client, "eth0", out, "c")
	client.Addr(t, "eth0", "203.0.113.50/24")
	client.Addr(t, "eth0", "203.0.113.1/24") // the upstream router
	outPorts, inPorts := []string{"c"}, []string{}
	lbs := map[string]*nstest.NS{}
	for i, name := range []string{"lb1", "lb2"} {
		ns := nstest.New(t, name)
		nstest.Veth(t, ns, "eth0", out, "o"+name)
		nstest.Veth(t, ns, "eth1", in, "i"+name)
		ns.Addr(t, "eth0", fmt.Sprintf("203.0.113.%d/24", 11+i))
		ns.Addr(t, "eth1", fmt.Sprintf("10.0.1.%d/24", 251+i))
		ns.Sysctl(t, "net.ipv4.ip_forward", "1")
		outPorts, inPorts = append(outPorts, "o"+name), append(inPorts, "i"+name)
		lbs[name] = ns
	}
	servers := map[string]*realServer{}
	for i := range 3 {
		ns := nstest.New(t, "web")
		port := fmt.Sprintf("w%d", i)
		nstest.Veth(t, ns, "eth0", in, port)
		inPorts = append(inPorts, port)
		ns.Addr(t, "eth0", fmt.Sprintf("10.0.1.%d/24", 11+i))
		ns.Route(t, "default", "10.0.1.1", "")
		name := fmt.Sprintf("web%d", i+1)
		servers[name] = newRealServer(t, name, ns, fmt.Sprintf("10.0.1.%d:80", 11+i))
	}
	out.Bridge(t, "br0", outPorts...)
	in.Bridge(t, "br0", inPorts...)

	dir := t.TempDir()
	ping, err := exec.LookPath("ping")
	if err != nil {
		t.Fatal(err)
	}
	hook := filepath.Join(dir, "notify.sh")
	writeFile(t, hook, "#!/bin/sh\necho \"$LVSD_NODE $*\" >> "+dir+"/notified\n")
	os.Chmod(hook, 0o755)
	path := exampleLabFile(t, "ha-pair.hcl", dir, map[string]string{"/usr/bin/ping": ping, "/usr/local/bin/lvsd-notify": hook})
	nodes := map[string]*lvsdProc{}
	for _, name := range []string{"lb1", "lb2"} {
		nodes[name] = startLVSD(t, "-c", path, "-var", "node="+name, "--state-file", filepath.Join(dir, name+".owned"), "--netns", lbs[name].Path())
	}
	lb1, lb2 := &vnode{lvsdProc: nodes["lb1"], t: t}, &vnode{lvsdProc: nodes["lb2"], t: t}
	mdi := vrrp.MasterDownInterval(3, 150, time.Second)
	for _, inst := range []string{"outside", "inside"} {
		lb1.waitState(mdi+5*time.Second, inst, "MASTER")
		lb2.waitState(time.Second, inst, "BACKUP")
	}
	// Warm standby: both tables programmed (3 real servers, checked up).
	for name, ns := range lbs {
		want := desiredTable(t, path)
		waitTable(t, ns, 10*time.Second, name+" programmed", func(tb ipvs.Table) bool { return tb.Equal(want) && tb.NumDestinations() == 3 })
	}
	waitDaemons(t, lbs["lb1"], 5*time.Second, "eth1", 51, "master")
	waitDaemons(t, lbs["lb2"], 5*time.Second, "eth1", 51, "backup")
	through := func(when string) {
		t.Helper()
		for range 3 {
			name, err := get(client, "203.0.113.10:80")
			if err != nil || servers[name] == nil {
				t.Fatalf("%s: through the VIP: %q, %v", when, name, err)
			}
		}
	}
	through("lb1 master")

	lb1.kill()
	for _, inst := range []string{"outside", "inside"} {
		lb2.waitState(mdi+5*time.Second, inst, "MASTER")
	}
	waitDaemons(t, lbs["lb2"], 5*time.Second, "eth1", 51, "master")
	through("lb2 master")
	notified := readFile(t, filepath.Join(dir, "notified"))
	for _, want := range []string{"lb1 GROUP director MASTER 0", "lb2 GROUP director BACKUP 0", "lb2 GROUP director MASTER 0"} {
		if !strings.Contains(notified, want+"\n") {
			t.Fatalf("the sync group's notify hook did not run with %q:\n%s", want, notified)
		}
	}
}

// TestKernelVRRPDualMasterExample runs examples/dual-master.hcl on lb1
// and lb2 (DR, one segment 192.0.2.0/24, both VIPs on the real servers'
// lo): each node masters one VIP, both run both sync daemons; SIGKILL of
// lb1 leaves lb2 with both VIPs, and both still answer.
func TestKernelVRRPDualMasterExample(t *testing.T) {
	nstest.RequireIPVS(t)
	sw := nstest.New(t, "sw")
	client := nstest.New(t, "cli")
	nstest.Veth(t, client, "eth0", sw, "c")
	client.Addr(t, "eth0", "192.0.2.50/24")
	ports := []string{"c"}
	lbs := map[string]*nstest.NS{}
	for i, name := range []string{"lb1", "lb2"} {
		ns := nstest.New(t, name)
		nstest.Veth(t, ns, "eth0", sw, name)
		ns.Addr(t, "eth0", fmt.Sprintf("192.0.2.%d/24", 1+i))
		ports = append(ports, name)
		lbs[name] = ns
	}
	servers := map[string]*realServer{}
	for i := range 3 {
		ns := nstest.New(t, "web")
		port := fmt.Sprintf("w%d", i)
		nstest.Veth(t, ns, "eth0", sw, port)
		ports = append(ports, port)
		ns.Addr(t, "eth0", fmt.Sprintf("192.0.2.%d/24", 11+i))
		for _, dev := range []string{"all", "eth0"} {
			ns.Sysctl(t, "net.ipv4.conf."+dev+".arp_ignore", "1")
			ns.Sysctl(t, "net.ipv4.conf."+dev+".arp_announce", "2")
		}
		ns.Addr(t, "lo", "192.0.2.101/32")
		ns.Addr(t, "lo", "192.0.2.102/32")
		name := fmt.Sprintf("web%d", i+1)
		servers[name] = newRealServer(t, name, ns, "0.0.0.0:80")
	}
	sw.Bridge(t, "br0", ports...)
	dir := t.TempDir()
	path := exampleLabFile(t, "dual-master.hcl", dir, nil)
	lb1 := &vnode{t: t, lvsdProc: startLVSD(t, "-c", path, "-var", "node=lb1", "--state-file", filepath.Join(dir, "lb1.owned"), "--netns", lbs["lb1"].Path())}
	lb2 := &vnode{t: t, lvsdProc: startLVSD(t, "-c", path, "-var", "node=lb2", "--state-file", filepath.Join(dir, "lb2.owned"), "--netns", lbs["lb2"].Path())}
	mdi := vrrp.MasterDownInterval(3, 150, time.Second)
	lb1.waitState(mdi+5*time.Second, "vip-a", "MASTER")
	lb2.waitState(mdi+5*time.Second, "vip-b", "MASTER")
	lb1.waitState(time.Second, "vip-b", "BACKUP")
	lb2.waitState(time.Second, "vip-a", "BACKUP")
	for name, ns := range lbs {
		want := desiredTable(t, path)
		waitTable(t, ns, 10*time.Second, name+" programmed", func(tb ipvs.Table) bool { return tb.Equal(want) && tb.NumDestinations() == 6 })
		waitDaemons(t, ns, 5*time.Second, "eth0", 60, "master", "backup")
	}
	through := func(when string) {
		t.Helper()
		for _, vip := range []string{"192.0.2.101", "192.0.2.102"} {
			name, err := get(client, vip+":80")
			if err != nil || servers[name] == nil {
				t.Fatalf("%s: through %s: %q, %v", when, vip, name, err)
			}
		}
	}
	through("both masters")
	lb1.kill()
	lb2.waitState(vrrp.MasterDownInterval(3, 100, time.Second)+5*time.Second, "vip-a", "MASTER")
	// lb1's address stays behind after SIGKILL (as with keepalived); the
	// client follows lb2's gratuitous ARP.
	through("lb2 alone")
}
