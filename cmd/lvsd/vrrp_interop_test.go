package main

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lvsd/lvsd/vrrp"
	"github.com/lvsd/lvsd/vrrp/vrrptest"
)

// `lvsd run` next to keepalived 2.2.7 (the Debian package): the two must
// agree on the master whoever has the higher priority, for v2 with PASS
// authentication and v3, multicast and unicast; and a keepalived.conf
// converted with `lvsd import` must run against the original keepalived
// peer without a split brain.

type interopCase struct {
	name       string
	version    int
	interval   time.Duration
	auth       string
	unicast    bool
	lvsdMaster bool
}

// keepalivedConf is n2's keepalived configuration for c.
func (c interopCase) keepalivedConf(l *vrrptest.Lab, prio int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "global_defs {\n  router_id n2\n}\nvrrp_instance VI_1 {\n  state BACKUP\n  interface eth0\n  virtual_router_id 51\n")
	fmt.Fprintf(&b, "  priority %d\n  advert_int %g\n  version %d\n", prio, c.interval.Seconds(), c.version)
	if c.auth != "" {
		fmt.Fprintf(&b, "  authentication {\n    auth_type PASS\n    auth_pass %s\n  }\n", c.auth)
	}
	if c.unicast {
		fmt.Fprintf(&b, "  unicast_src_ip %v\n  unicast_peer {\n    %v\n  }\n", l.Node("n2").Addr4, l.Node("n1").Addr4)
	}
	fmt.Fprintf(&b, "  virtual_ipaddress {\n    %v dev eth0\n  }\n}\n", vrrptest.VIP4)
	return b.String()
}

// lvsdConf is n1's HCL for c.
func (c interopCase) lvsdConf(l *vrrptest.Lab, prio int) string {
	inside := fmt.Sprintf("  version = %d\n", c.version)
	if c.auth != "" {
		inside += fmt.Sprintf("  auth_pass = %q\n", c.auth)
	}
	if c.unicast {
		inside += fmt.Sprintf("  unicast_source = %q\n  unicast_peers = [%q]\n", l.Node("n1").Addr4, l.Node("n2").Addr4)
	}
	return vrrpHCL(prio, c.interval.String(), inside, "")
}

func TestVRRPDaemonKeepalivedInterop(t *testing.T) {
	vrrptest.RequireKeepalived(t)
	// Every mode, with lvsd both master and backup across the four.
	for _, c := range []interopCase{
		{name: "v3-multicast-lvsd-master", version: 3, interval: 100 * time.Millisecond, lvsdMaster: true},
		{name: "v3-unicast-lvsd-backup", version: 3, interval: 100 * time.Millisecond, unicast: true},
		{name: "v2-pass-multicast-lvsd-backup", version: 2, interval: time.Second, auth: "s3cr3t"},
		{name: "v2-pass-unicast-lvsd-master", version: 2, interval: time.Second, auth: "s3cr3t", unicast: true, lvsdMaster: true},
	} {
		t.Run(c.name, func(t *testing.T) {
			l := vrrptest.New(t, 2)
			vip := vrrptest.VIP4.Addr()
			lvPrio, kaPrio := 100, 150
			master, backup := "n2", "n1"
			if c.lvsdMaster {
				lvPrio, kaPrio = 150, 100
				master, backup = "n1", "n2"
			}
			mdi := vrrp.MasterDownInterval(uint8(c.version), 150, c.interval)
			lv := startNode(t, l, "n1", c.lvsdConf(l, lvPrio))
			ka := vrrptest.StartKeepalived(t, "n2", l.Node("n2").NS, c.keepalivedConf(l, kaPrio))
			l.StartProbe(vip, 2*time.Millisecond)
			// agree waits until both say who is master and only it holds
			// the address and answers the client.
			agree := func(who string) {
				t.Helper()
				lvWant, kaWant := "BACKUP", "MASTER"
				if who == "n1" {
					lvWant, kaWant = "MASTER", "BACKUP"
				}
				lv.waitState(mdi+3*time.Second, "VI_1", lvWant)
				ka.WaitState(mdi+3*time.Second, "VI_1", kaWant)
				l.WaitHolders(2*time.Second, vip, who)
				l.Probe.WaitAnswer(t, 2*time.Second, who)
			}
			agree(master)

			// The master stops gracefully: the other takes over.
			if master == "n1" {
				lv.stop()
				ka.WaitState(2*time.Second, "VI_1", "MASTER")
			} else {
				ka.Stop()
				lv.waitState(2*time.Second, "VI_1", "MASTER")
			}
			l.WaitHolders(2*time.Second, vip, backup)
			l.Probe.WaitAnswer(t, 2*time.Second, backup)

			// It comes back and preempts.
			if master == "n1" {
				lv.restart()
			} else {
				ka = vrrptest.StartKeepalived(t, "n2", l.Node("n2").NS, c.keepalivedConf(l, kaPrio))
			}
			agree(master)

			// The master is killed: the other takes over within the
			// RFC's Master_Down_Interval of the backup.
			kill := time.Now()
			if master == "n1" {
				lv.kill()
				ka.WaitState(mdi+2*time.Second, "VI_1", "MASTER")
			} else {
				ka.Kill()
				lv.waitState(mdi+2*time.Second, "VI_1", "MASTER")
			}
			owned := l.Takeover(backup, vip, kill)
			want := vrrp.MasterDownInterval(uint8(c.version), 100, c.interval)
			if c.unicast {
				// The client does not see unicast adverts: time from the
				// kill, which came at most an interval after the last one.
				requireWithin(t, "takeover after SIGKILL of the master (from the kill)", owned.Sub(kill), want, c.interval)
			} else {
				last := l.Sniff.LastAdvert(l.Node(master).Addr4, owned)
				requireWithin(t, "takeover after SIGKILL of the master (from its last advert)", owned.Sub(last), want, 2*time.Millisecond)
			}
			l.Probe.WaitAnswer(t, 2*time.Second, backup)
		})
	}
}

// The same pair of directors configured for keepalived: lb1 is converted
// with `lvsd import` and runs lvsd; lb2 runs the original keepalived.conf.
func TestVRRPDaemonImportRoundTrip(t *testing.T) {
	vrrptest.RequireKeepalived(t)
	l := vrrptest.New(t, 2)
	vip := vrrptest.VIP4.Addr()
	dir := t.TempDir()
	conf := func(node string, state string, prio int, me, peer netip.Addr, flag string) string {
		return fmt.Sprintf(`! %[1]s: haproxy directors sharing a VIP
global_defs {
    router_id %[1]s
    enable_script_security
    script_user root
}

vrrp_script chk_haproxy {
    script "/bin/test -e %[6]s"
    interval 1
    fall 2
    rise 2
    weight -60
}

vrrp_instance VI_1 {
    state %[2]s
    interface eth0
    virtual_router_id 51
    priority %[3]d
    advert_int 1
    authentication {
        auth_type PASS
        auth_pass lb-pass
    }
    unicast_src_ip %[4]s
    unicast_peer {
        %[5]s
    }
    virtual_ipaddress {
        %[7]s dev eth0
    }
    track_script {
        chk_haproxy
    }
}
`, node, state, prio, me, peer, flag, vrrptest.VIP4)
	}
	n1, n2 := l.Node("n1"), l.Node("n2")
	flag1, flag2 := filepath.Join(dir, "haproxy-up-lb1"), filepath.Join(dir, "haproxy-up-lb2")
	writeFile(t, flag1, "")
	writeFile(t, flag2, "")
	lb1 := filepath.Join(dir, "lb1-keepalived.conf")
	writeFile(t, lb1, conf("lb1", "MASTER", 150, n1.Addr4, n2.Addr4, flag1))
	hcl := filepath.Join(dir, "lb1.hcl")
	stdout, stderr, code := runLVSD(t, "import", "-o", hcl, lb1)
	if code != 0 {
		t.Fatalf("lvsd import: exit %d\n%s%s", code, stdout, stderr)
	}
	converted := readFile(t, hcl)
	for _, want := range []string{"version", "auth_pass", "unicast_peers", `track_script "chk_haproxy"`} {
		if !strings.Contains(converted, want) {
			t.Fatalf("the converted configuration has no %q:\n%s", want, converted)
		}
	}

	lv := startNode(t, l, "n1", converted)
	ka := vrrptest.StartKeepalived(t, "n2", n2.NS, conf("lb2", "BACKUP", 100, n2.Addr4, n1.Addr4, flag2))
	l.StartProbe(vip, 5*time.Millisecond)
	mdi := vrrp.MasterDownInterval(2, 100, time.Second)
	// settle waits for the pair to agree on who, then checks that it
	// stays so for a few adverts: one holder, no split brain.
	settle := func(who string) {
		t.Helper()
		lvWant, kaWant := "BACKUP", "MASTER"
		if who == "n1" {
			lvWant, kaWant = "MASTER", "BACKUP"
		}
		lv.waitState(mdi+3*time.Second, "VI_1", lvWant)
		ka.WaitState(mdi+3*time.Second, "VI_1", kaWant)
		l.WaitHolders(2*time.Second, vip, who)
		l.Probe.WaitAnswer(t, 2*time.Second, who)
		for range 3 {
			time.Sleep(500 * time.Millisecond)
			l.RequireHolders(vip, who)
			if lv.state("VI_1") != lvWant || ka.State("VI_1") != kaWant {
				t.Fatalf("not steady: lvsd %s, keepalived %s", lv.state("VI_1"), ka.State("VI_1"))
			}
		}
	}
	settle("n1")

	// lb1's tracked script fails: 150 - 60 < 100, keepalived takes over;
	// it recovers, and lvsd takes the address back.
	os.Remove(flag1)
	settle("n2")
	writeFile(t, flag1, "")
	settle("n1")

	// lvsd stops (handing over) and comes back.
	lv.stop()
	ka.WaitState(2*time.Second, "VI_1", "MASTER")
	l.WaitHolders(2*time.Second, vip, "n2")
	lv.restart()
	settle("n1")
}
